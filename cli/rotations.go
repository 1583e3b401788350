package cli

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward"
)

// Rotation: the rotate, revoke-previous, cancel-rotation and rotations
// verbs of keys and secrets, and the schedule flags of keys and plans.

// defaultRotationGrace is the grace of a new schedule given without
// --rotation-grace, as long as the server's default for a rotation.
const defaultRotationGrace = keyward.Duration(24 * time.Hour)

// rotationFlags are --rotate-every and --rotation-grace of keys and plans
// create and update.
type rotationFlags struct{ every, grace policyDurationFlag }

func (r *rotationFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.Var(&r.every, "rotate-every", "rotate the value on this schedule (e.g. 30d, 720h, 1d12h)")
	f.Var(&r.grace, "rotation-grace", "how long the old value keeps working after a scheduled rotation (default 1d)")
}

func (r *rotationFlags) given() bool { return r.every.set || r.grace.set }

// check validates the flags before anything is asked of the server.
func (r *rotationFlags) check() error {
	if r.every.set && r.every.d == 0 {
		return usagef("--rotate-every must be positive")
	}
	return nil
}

// partial reports whether only one of the two flags was given, so that the
// schedule as it is must be read to complete it.
func (r *rotationFlags) partial() bool { return r.every.set != r.grace.set }

// policy returns the schedule the flags describe, completed from cur (the
// schedule as it is; nil: none), or nil when neither flag was given. what
// names the owner in errors ("key", "plan"). Call check first.
func (r *rotationFlags) policy(cur *keyward.RotationPolicy, what string) (*keyward.RotationPolicy, error) {
	if !r.given() {
		return nil, nil
	}
	var p keyward.RotationPolicy
	switch {
	case cur != nil:
		p = *cur
	case !r.every.set:
		return nil, usagef("the %s has no rotation schedule of its own to complete: give --rotate-every", what)
	default:
		p.Grace = defaultRotationGrace
	}
	if r.every.set {
		p.Every = r.every.d
	}
	if r.grace.set {
		p.Grace = r.grace.d
	}
	return &p, nil
}

// fmtRotationPolicy prints a schedule; nil prints as none.
func fmtRotationPolicy(p *keyward.RotationPolicy, none string) string {
	if p == nil {
		return none
	}
	return fmt.Sprintf("every %s, grace %s", p.Every, p.Grace)
}

// fmtSecretRotation prints a secret's rotation configuration.
func fmtSecretRotation(r *keyward.SecretRotation) string {
	if r == nil {
		return "none"
	}
	every := "when asked"
	if r.Every > 0 {
		every = "every " + r.Every.String()
	}
	return fmt.Sprintf("%s, through webhook %s", every, r.RotatorID)
}

// rotationStateFlag is --state of the rotation lists: a known state, in
// any case.
type rotationStateFlag struct{ s keyward.RotationState }

func (f *rotationStateFlag) String() string { return string(f.s) }
func (f *rotationStateFlag) Type() string   { return "STATE" }
func (f *rotationStateFlag) Set(s string) error {
	st := keyward.RotationState(strings.ToUpper(strings.TrimSpace(s)))
	switch st {
	case keyward.RotationInProgress, keyward.RotationSucceeded, keyward.RotationFailed,
		keyward.RotationRolledBack, keyward.RotationCancelled:
		f.s = st
		return nil
	}
	return fmt.Errorf("invalid state %q: want IN_PROGRESS, SUCCEEDED, FAILED, ROLLED_BACK or CANCELLED", s)
}

func newKeysRotateCmd() *cobra.Command {
	var (
		in    keyward.KeyRotate
		grace policyDurationFlag
	)
	cmd := &cobra.Command{
		Use:   "rotate KEY_ID [--grace DURATION] [--store-secret NAME] [--client-token T]",
		Short: "Rotate a key's value; the key ID stays and the old value works until its grace ends",
		Long: `Give a key a new value. The key ID, its plans, scopes and usage stay; the
old value becomes PREVIOUS and keeps working until the grace period ends
(--grace, else the key's schedule's, else 1d), or until
'keyward keys revoke-previous'.

The new value is shown once, like at creation: store it now, or deliver it
to a secret with --store-secret (a key created with --store-secret delivers
it there by default) so that only the key ID leaves the server.`,
		Example: `  keyward keys rotate key_abc --grace 2d
  keyward keys rotate key_abc --store-secret chat/prod/svc-key --client-token deploy-42 -o json`,
		Args: exactArgs("KEY_ID"),
		RunE: run(func(e *env, args []string) error {
			if grace.set {
				in.Grace = grace.ptr()
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			out, err := c.RotateKey(e.ctx, args[0], in)
			if err != nil {
				return err
			}
			if out == nil || out.Key == nil || out.Rotation == nil {
				return keyward.Errorf(keyward.EINTERNAL, "the server returned no rotation")
			}
			storedIn := in.StoreSecret
			if storedIn == "" {
				storedIn = out.Rotation.StoreSecret
			}
			value := out.Value
			if storedIn != "" {
				value = "" // delivered to the secret; never printed
			}
			e.st.secret(value)
			return printRotatedKey(e, out, value, storedIn)
		}),
	}
	f := cmd.Flags()
	f.Var(&grace, "grace", "how long the old value keeps working (default: the key's schedule's, else 1d)")
	f.StringVar(&in.StoreSecret, "store-secret", "", "write the new value to this secret instead of printing it")
	f.StringVar(&in.ClientToken, "client-token", "", "idempotency token: retrying with the same token rotates once")
	return cmd
}

// printRotatedKey prints a rotation's outcome. In JSON it is the server's
// answer (key, rotation, replayed) with "value" only when there is one to
// show.
func printRotatedKey(e *env, out *keyward.RotatedKey, value, storedIn string) error {
	if e.json {
		v := *out
		v.Value = value
		return writeJSON(e.stdout, v)
	}
	rot := out.Rotation
	f := newFields(e.stdout)
	f.add("ID", labelled(out.Key.ID, out.Key.Name))
	f.add("Rotation", rot.ID)
	f.add("State", string(rot.State))
	if rot.Error != "" {
		f.add("Error", rot.Error)
	}
	previous := "none"
	for _, c := range out.Key.Credentials {
		if c.Label == keyward.LabelPrevious {
			previous = fmtTimePtr(c.GraceUntil, "no deadline")
		}
	}
	f.add("Previous until", previous)
	addValue(f, value, storedIn)
	if err := f.flush(); err != nil {
		return err
	}
	if out.Replayed {
		warnf(e.stderr, "this client token was used before: this is the rotation it started")
	}
	if value != "" {
		warnf(e.stderr, "this value is shown only once: store it now")
	}
	return nil
}

func newKeysRevokePreviousCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "revoke-previous KEY_ID",
		Short: "Stop accepting a key's PREVIOUS value now, before its grace ends",
		Long: `End the grace period of a key's PREVIOUS value at once, for example when
the old value leaked. Fails (exit 1) when the key has no PREVIOUS value.`,
		Args: exactArgs("KEY_ID"),
		RunE: run(func(e *env, args []string) error {
			c, err := e.client()
			if err != nil {
				return err
			}
			k, err := c.RevokePrevious(e.ctx, args[0])
			if err != nil {
				return err
			}
			if e.json && k != nil {
				return writeJSON(e.stdout, k)
			}
			return e.done(map[string]any{"key": args[0], "previousRevoked": true},
				"Key %s: the PREVIOUS value no longer works.", sanitizeLine(args[0]))
		}),
	}
}

// rotationsCmd returns "rotations ARG": a page of rotations, or all of
// them, as a table or a JSON array.
func rotationsCmd(arg, short string, list func(c Client, e *env, ref string, f keyward.RotationFilter) ([]*keyward.Rotation, string, error)) *cobra.Command {
	var (
		page  pageFlags
		state rotationStateFlag
		token string
	)
	cmd := &cobra.Command{
		Use:   "rotations " + arg + " [--state S] [--client-token T]",
		Short: short,
		Args:  exactArgs(arg),
		RunE: run(func(e *env, args []string) error {
			if err := page.check(); err != nil {
				return err
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			rots, next, err := collect(e, page, func(p keyward.Page) ([]*keyward.Rotation, string, error) {
				return list(c, e, args[0], keyward.RotationFilter{State: state.s, ClientToken: token, Page: p})
			})
			if err != nil {
				return err
			}
			e.moreHint(next)
			return e.out(rots, func(w io.Writer) error { return printRotations(w, rots, newNames(e.ctx, c)) })
		}),
	}
	cmd.Flags().Var(&state, "state", "only rotations in this state: IN_PROGRESS, SUCCEEDED, FAILED, ROLLED_BACK or CANCELLED")
	cmd.Flags().StringVar(&token, "client-token", "", "only the rotation started with this client token")
	page.register(cmd)
	return cmd
}

func newKeysRotationsCmd() *cobra.Command {
	return rotationsCmd("KEY_ID", "List a key's rotations, newest first",
		func(c Client, e *env, id string, f keyward.RotationFilter) ([]*keyward.Rotation, string, error) {
			return c.ListKeyRotations(e.ctx, id, f)
		})
}

func printRotations(w io.Writer, rots []*keyward.Rotation, n *names) error {
	t := newTable(w, "ID", "STATE", "STEP", "TRIGGER", "HINT", "STARTED BY", "CREATED", "FINISHED", "ERROR")
	for _, r := range rots {
		t.row(r.ID, string(r.State), string(r.Step), r.Trigger, r.Hint, n.label(kindPrincipal, r.StartedBy),
			fmtTime(r.CreatedAt), fmtTimePtr(r.FinishedAt, ""), r.Error)
	}
	return t.flush()
}

func printRotation(w io.Writer, r *keyward.Rotation, n *names) error {
	f := newFields(w)
	f.add("ID", r.ID)
	f.add("Kind", string(r.Kind))
	target := r.Target
	if r.Kind == keyward.RotationKey {
		target = n.label(kindKey, r.Target)
	}
	f.add("Target", target)
	f.add("State", string(r.State))
	f.add("Step", string(r.Step))
	f.add("Trigger", r.Trigger)
	if r.Kind == keyward.RotationKey {
		f.add("Grace", r.Grace.String())
	}
	if r.StoreSecret != "" {
		f.add("Store secret", r.StoreSecret)
	}
	if r.Hint != "" {
		f.add("Hint", r.Hint)
	}
	if r.Error != "" {
		f.add("Error", r.Error)
	}
	f.add("Started by", n.label(kindPrincipal, r.StartedBy))
	f.add("Created", fmtTime(r.CreatedAt))
	f.add("Finished", fmtTimePtr(r.FinishedAt, ""))
	return f.flush()
}

func newSecretsRotateCmd() *cobra.Command {
	var (
		in      keyward.SecretRotate
		every   policyDurationFlag
		noStart bool
	)
	cmd := &cobra.Command{
		Use:   "rotate NAME [--rotator WEBHOOK_ID] [--every DURATION] [--no-rotate-now] [--client-token T]",
		Short: "Set a secret's rotation and start one through its rotator webhook",
		Long: `Rotate a secret through a rotator webhook endpoint (keyward webhooks create
--kind rotator), which keyward calls once per step (createSecret, setSecret,
testSecret, finishSecret), as Secrets Manager calls a rotation Lambda.

--rotator and --every are saved on the secret; left out, the saved ones are
kept. --every 0 rotates only when asked. The rotation runs in the
background: follow it with 'keyward secrets rotations NAME'. With
--no-rotate-now only the configuration is saved.`,
		Example: `  keyward secrets rotate openai/prod-key --rotator wh_abc --every 30d
  keyward secrets rotate openai/prod-key --client-token deploy-42 -o json`,
		Args: exactArgs("NAME"),
		RunE: run(func(e *env, args []string) error {
			if every.set {
				in.Every = every.ptr()
			}
			if noStart {
				if in.ClientToken != "" {
					return usagef("--client-token names a rotation: it cannot be used with --no-rotate-now")
				}
				f := false
				in.Now = &f
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			rot, err := c.RotateSecret(e.ctx, args[0], in)
			if err != nil {
				return err
			}
			if rot == nil {
				return e.done(map[string]any{"secret": args[0], "rotationStarted": false},
					"Rotation of secret %s configured; no rotation started.", sanitizeLine(args[0]))
			}
			if err := e.out(rot, func(w io.Writer) error { return printRotation(w, rot, newNames(e.ctx, c)) }); err != nil {
				return err
			}
			if !e.json && rot.State == keyward.RotationInProgress {
				warnf(e.stderr, "the rotation runs in the background: follow it with 'keyward secrets rotations %s'", sanitizeLine(args[0]))
			}
			return nil
		}),
	}
	f := cmd.Flags()
	f.StringVar(&in.RotatorID, "rotator", "", "webhook endpoint (kind rotator) that performs the rotation steps")
	f.Var(&every, "every", "rotate on this schedule (e.g. 30d); 0: only when asked")
	f.BoolVar(&noStart, "no-rotate-now", false, "only save the configuration; do not start a rotation")
	f.StringVar(&in.ClientToken, "client-token", "", "idempotency token: retrying with the same token starts one rotation")
	return cmd
}

func newSecretsCancelRotationCmd() *cobra.Command {
	return refCmd("cancel-rotation", "NAME", "Stop a secret's running rotation and take its PENDING version back",
		func(e *env, c Client, name string) error {
			rot, err := c.CancelSecretRotation(e.ctx, name)
			if err != nil {
				return err
			}
			if rot == nil {
				return keyward.Errorf(keyward.EINTERNAL, "the server returned no rotation")
			}
			return e.out(rot, func(w io.Writer) error { return printRotation(w, rot, newNames(e.ctx, c)) })
		})
}

func newSecretsRotationsCmd() *cobra.Command {
	return rotationsCmd("NAME", "List a secret's rotations, newest first",
		func(c Client, e *env, name string, f keyward.RotationFilter) ([]*keyward.Rotation, string, error) {
			return c.ListSecretRotations(e.ctx, name, f)
		})
}
