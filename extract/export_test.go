package extract

// Work returns how many bytes Candidates examines for text, counting
// re-reads, so tests can show the scan is linear without timing it.
func Work(text string, opts Options) int {
	s := newScanner(text, opts)
	_ = s.run()
	return s.work
}
