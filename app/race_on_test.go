//go:build race

package app_test

// raceEnabled: the race detector's instrumentation deepens every frame.
const raceEnabled = true
