package hostile

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"strings"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// Header is one metadata entry: a lower-case name and a value.
type Header struct{ Name, Value string }

// MetadataBomb is n metadata entries of size bytes each (100 × 100 KB is
// 10 MB per call).
func MetadataBomb(n, size int) []Header {
	out := make([]Header, n)
	for i := range out {
		out[i] = Header{fmt.Sprintf("x-bomb-%d", i), strings.Repeat("b", size)}
	}
	return out
}

// MalformedTimeout is a grpc-timeout header that does not parse.
var MalformedTimeout = Header{"grpc-timeout", "soon"}

// RawStatus is what a raw HTTP/2 call got back.
type RawStatus struct {
	// Code is the grpc-status trailer or header, "" when the stream was
	// reset or the connection closed before one came.
	Code string
	// Details reports whether grpc-status-details-bin came with it.
	Details bool
}

// Call sends one call to method (e.g. /guardgen.v1.GenerationService/Generate)
// at addr over a raw HTTP/2 connection, with extra headers and an empty
// request message, past every check a gRPC client makes (header list
// size, header syntax), and reads the answer until ctx ends. Write errors
// are expected: the server may close the connection mid-call.
func Call(ctx context.Context, addr, method string, extra []Header) (RawStatus, error) {
	return CallBlock(ctx, addr, EncodeHeaders(addr, method, extra))
}

// EncodeHeaders HPACK-encodes the headers of a gRPC call plus extra, so
// that a large block can be built once and sent many times.
func EncodeHeaders(addr, method string, extra []Header) []byte {
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	for _, h := range append([]Header{
		{":method", "POST"}, {":scheme", "http"}, {":path", method},
		{":authority", addr}, {"content-type", "application/grpc"}, {"te", "trailers"},
	}, extra...) {
		_ = enc.WriteField(hpack.HeaderField{Name: h.Name, Value: h.Value})
	}
	return buf.Bytes()
}

// CallBlock is Call with the header block already encoded.
func CallBlock(ctx context.Context, addr string, block []byte) (RawStatus, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return RawStatus{}, err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	} else {
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	go writeCall(conn, block)

	fr := http2.NewFramer(nil, conn)
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	var st RawStatus
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			return st, nil // the server closed the connection or reset it
		}
		switch f := f.(type) {
		case *http2.MetaHeadersFrame:
			for _, h := range f.Fields {
				switch h.Name {
				case "grpc-status":
					st.Code = h.Value
				case "grpc-status-details-bin":
					st.Details = true
				}
			}
			if f.StreamEnded() {
				return st, nil
			}
		case *http2.RSTStreamFrame, *http2.GoAwayFrame:
			return st, nil
		}
	}
}

// writeCall writes the preface, settings, block as HEADERS and
// CONTINUATION frames of 16 KB, and an empty message that ends the stream.
func writeCall(conn net.Conn, block []byte) {
	if _, err := conn.Write([]byte(http2.ClientPreface)); err != nil {
		return
	}
	fr := http2.NewFramer(conn, nil)
	if fr.WriteSettings() != nil {
		return
	}
	const chunk = 16 << 10
	first := block[:min(chunk, len(block))]
	rest := block[len(first):]
	if fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: first, EndHeaders: len(rest) == 0}) != nil {
		return
	}
	for len(rest) > 0 {
		n := min(chunk, len(rest))
		if fr.WriteContinuation(1, n == len(rest), rest[:n]) != nil {
			return
		}
		rest = rest[n:]
	}
	_ = fr.WriteData(1, true, binary.BigEndian.AppendUint32([]byte{0}, 0))
}
