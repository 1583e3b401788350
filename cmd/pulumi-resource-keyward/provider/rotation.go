package provider

import (
	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi/sdk/v3/go/property"

	"github.com/keyward/keyward"
)

// Scheduled rotation is declared on an ApiKey or a UsagePlan by two string
// inputs, rotateEvery and rotationGrace, in keyward's duration text ("30d",
// "24h", "90m"). Both set is a policy, neither is none; one without the
// other is refused by Check, so a program always says how long an old value
// keeps working ("0s" for not at all). The bounds (every 1m to 1000d, grace
// at most 90d and shorter than every) are the server's, which answers
// EINVALID; Check repeats only what needs no limits — the text parses, and
// grace is shorter than every — so a preview already reports it.

const (
	inRotateEvery   = "rotateEvery"
	inRotationGrace = "rotationGrace"
)

// docRotationGrace describes rotationGrace on both resources.
const docRotationGrace = "How long the previous value keeps working after a scheduled rotation, e.g. \"1d\" or \"12h\"; " +
	"\"0s\" for not at all. Required with rotateEvery (declare both or neither), and shorter than it. " +
	"Changing it updates in place."

// checkRotation reports what is wrong with a declared pair. Inputs still
// unknown (a preview, another resource's output) decode as "" and are not
// judged.
func checkRotation(raw property.Map, every, grace string) []p.CheckFailure {
	if raw.Get(inRotateEvery).HasComputed() || raw.Get(inRotationGrace).HasComputed() {
		return nil
	}
	var failures []p.CheckFailure
	fail := func(prop, reason string) {
		failures = append(failures, p.CheckFailure{Property: prop, Reason: reason})
	}
	switch {
	case every == "" && grace == "":
		return nil
	case every == "":
		fail(inRotationGrace, "rotationGrace needs rotateEvery: declare both, or neither")
		return failures
	case grace == "":
		fail(inRotationGrace, "rotateEvery needs rotationGrace (\"0s\" for none): declare both, or neither")
		return failures
	}
	e, eerr := keyward.ParseDuration(every)
	if eerr != nil || e <= 0 {
		fail(inRotateEvery, "rotateEvery must be a positive duration such as \"30d\" or \"24h\"")
	}
	g, gerr := keyward.ParseDuration(grace)
	if gerr != nil || g < 0 {
		fail(inRotationGrace, "rotationGrace must be a duration such as \"1d\", \"12h\" or \"0s\"")
	}
	if len(failures) == 0 && g >= e {
		fail(inRotationGrace, "rotationGrace must be shorter than rotateEvery")
	}
	return failures
}

// normDuration is the normal form Diff compares: "720h" and "30d" alike.
// Unparseable text is returned as is (Check reports it).
func normDuration(s string) string {
	if s == "" {
		return ""
	}
	d, err := keyward.ParseDuration(s)
	if err != nil {
		return s
	}
	return d.String()
}

// toRotation returns the policy of a declared pair, nil for none. Both
// halves are required (Check); a grace left out here reads as 0.
func toRotation(every, grace string) (*keyward.RotationPolicy, error) {
	if every == "" {
		return nil, nil
	}
	e, err := keyward.ParseDuration(every)
	if err != nil {
		return nil, err
	}
	var g keyward.Duration
	if grace != "" {
		if g, err = keyward.ParseDuration(grace); err != nil {
			return nil, err
		}
	}
	return &keyward.RotationPolicy{Every: e, Grace: g}, nil
}

// fromRotation returns the server's policy as the pair Read reports, in
// the program's spelling (oldEvery, oldGrace) where it means the same.
func fromRotation(r *keyward.RotationPolicy, oldEvery, oldGrace string) (every, grace string) {
	if r == nil {
		return "", ""
	}
	return keep(oldEvery, r.Every.String(), normDuration), keep(oldGrace, r.Grace.String(), normDuration)
}
