package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/guardgen/guardgen/app"
	"github.com/guardgen/guardgen/app/apptest"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	guardgenv1 "github.com/guardgen/guardgen/gen/guardgen/v1"
)

// authority is a throwaway certificate authority.
type authority struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newAuthority(t *testing.T, name string) *authority {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &authority{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue signs a leaf certificate for usage; server certificates are valid
// for localhost and 127.0.0.1. It returns the PEM certificate and key.
func (a *authority) issue(t *testing.T, name string, serial int64, usage x509.ExtKeyUsage) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
	}
	if usage == x509.ExtKeyUsageServerAuth {
		tmpl.DNSNames = []string{"localhost"}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.cert, &key.PublicKey, a.key)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})
}

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestMTLSAndBearerAuth starts guardgen from a configuration with
// server.tls (client_ca_file: mTLS) and server.auth through the real
// wiring, and connects as clients with and without the right certificate
// and token.
func TestMTLSAndBearerAuth(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca := newAuthority(t, "guardgen test CA")
	serverCert, serverKey := ca.issue(t, "guardgen", 2, x509.ExtKeyUsageServerAuth)
	clientCert, clientKey := ca.issue(t, "guardgen-client", 3, x509.ExtKeyUsageClientAuth)
	rogue := newAuthority(t, "rogue CA")
	rogueCert, rogueKey := rogue.issue(t, "rogue-client", 4, x509.ExtKeyUsageClientAuth)

	cfg := parseConfig(t, `
server:
  tls:
    cert_file: `+writeFile(t, dir, "server.pem", serverCert)+`
    key_file: `+writeFile(t, dir, "server-key.pem", serverKey)+`
    client_ca_file: `+writeFile(t, dir, "ca.pem", ca.pem)+`
  auth:
    tokens_env: GUARDGEN_TEST_TOKENS
    allow_unauthenticated_health_and_reflection: true
`)
	getenv := func(k string) string {
		if k == "GUARDGEN_TEST_TOKENS" {
			return "other-token, right-token"
		}
		return ""
	}
	addr := apptest.Start(t, cfg, app.Options{Getenv: getenv}).Addr

	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)
	pair := func(certPEM, keyPEM []byte) []tls.Certificate {
		c, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			t.Fatal(err)
		}
		return []tls.Certificate{c}
	}
	dial := func(t *testing.T, creds credentials.TransportCredentials) *grpc.ClientConn {
		t.Helper()
		conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return conn
	}
	healthCheck := func(conn *grpc.ClientConn) (*healthpb.HealthCheckResponse, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	}

	refused := []struct {
		name  string
		creds credentials.TransportCredentials
	}{
		{"no client certificate", credentials.NewTLS(&tls.Config{RootCAs: roots, ServerName: "localhost"})},
		// Sent even though the server does not name its CA as acceptable
		// (a Certificates list would leave it out), so the server's
		// verification is what refuses it.
		{"certificate from another CA", credentials.NewTLS(&tls.Config{RootCAs: roots, ServerName: "localhost",
			GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &pair(rogueCert, rogueKey)[0], nil }})},
		{"plaintext", insecure.NewCredentials()},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// Health needs no token here, so only the transport can refuse.
			_, err := healthCheck(dial(t, tt.creds))
			if status.Code(err) != codes.Unavailable {
				t.Errorf("health check: %v, want Unavailable (handshake refused)", err)
			}
		})
	}

	t.Run("CA-signed certificate", func(t *testing.T) {
		t.Parallel()
		conn := dial(t, credentials.NewTLS(&tls.Config{RootCAs: roots, ServerName: "localhost", Certificates: pair(clientCert, clientKey)}))
		if hc, err := healthCheck(conn); err != nil || hc.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("health without a token = %v, %v; want SERVING", hc, err)
		}
		gen := guardgenv1.NewGenerationServiceClient(conn)
		tokens := []struct {
			header string
			want   codes.Code
		}{
			{"", codes.Unauthenticated},
			{"Bearer wrong-token", codes.Unauthenticated},
			{"right-token", codes.Unauthenticated}, // not a bearer credential
			{"Bearer right-token", codes.OK},
		}
		for _, tt := range tokens {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if tt.header != "" {
				ctx = metadata.AppendToOutgoingContext(ctx, "authorization", tt.header)
			}
			_, err := gen.Generate(ctx, &guardgenv1.GenerateRequest{Prompt: "My invoice is wrong", TargetType: ticketType})
			cancel()
			if status.Code(err) != tt.want {
				t.Errorf("authorization %q: %v, want %v", tt.header, err, tt.want)
			}
		}
	})
}
