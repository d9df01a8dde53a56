package server

import "github.com/guardgen/guardgen/config"

// defaultOptions are the output settings config.Default gives a server,
// as app.ServerSettings reads them (this package's own tests cannot
// import app): the preview length, fence stripping, strict mode and the
// output bounds.
func defaultOptions() Options {
	d := config.Default()
	v, srv := d.GetLlmPipeline().GetValidation(), d.GetServer()
	return Options{
		PreviewLength:   int(v.GetMaxContentPreviewLength()),
		StripFences:     v.GetStripMarkdownFences(),
		StrictSchema:    v.GetStrictSchemaMode(),
		MaxOutputBytes:  int(srv.GetMaxOutputBytes()),
		MaxOutputValues: int(srv.GetMaxOutputValues()),
	}
}
