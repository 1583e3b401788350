package core

import "time"

// SetRotatorBackoff shortens the wait between tries of a rotator step.
func SetRotatorBackoff(d time.Duration) (restore func()) {
	old := rotatorBackoff
	rotatorBackoff = d
	return func() { rotatorBackoff = old }
}
