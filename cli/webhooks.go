package cli

import (
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward"
)

func newWebhooksCmd() *cobra.Command {
	return newNoun("webhooks", "Manage the endpoints keyward calls: notifications and secret rotators",
		newWebhooksCreateCmd(),
		newWebhooksGetCmd(),
		newWebhooksListCmd(),
		newWebhooksDeleteCmd(),
		newWebhooksDeliveriesCmd(),
	)
}

// parseEventType accepts one of keyward.EventTypes().
func parseEventType(s string) (string, error) {
	if slices.Contains(keyward.EventTypes(), s) {
		return s, nil
	}
	return "", fmt.Errorf("unknown event type %q: want one of %s", s, strings.Join(keyward.EventTypes(), ", "))
}

func newWebhooksCreateCmd() *cobra.Command {
	var (
		in     keyward.WebhookCreate
		kind   string
		events = newListFlag("TYPE", parseEventType)
	)
	cmd := &cobra.Command{
		Use:   "create --url URL [--kind notify|rotator] [--event TYPE]... [--principal ID|self] [flags]",
		Short: "Register an endpoint; its signing secret is shown once",
		Long: `Register an HTTP(S) endpoint that keyward calls with signed requests, and
print its signing secret. The secret is shown only once: the endpoint needs
it to check each request's signature.

A notify endpoint hears of the events given with --event (all when none):
` + strings.Join(keyward.EventTypes(), ", ") + `.
A rotator endpoint performs the steps of secret rotations
(keyward secrets rotate --rotator ID).

--principal makes the endpoint a principal's (self: yours): it then hears
only of keys and secrets that principal may read.`,
		Example: `  keyward webhooks create --url https://hooks.internal/keyward --event key.rotated --event rotation.failed
  keyward webhooks create --url https://rotator.internal/openai --kind rotator -o json`,
		Args: exactArgs(),
		RunE: run(func(e *env, _ []string) error {
			u, err := url.Parse(in.URL)
			switch {
			case in.URL == "":
				return usagef("--url is required")
			case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
				return usagef("invalid --url: want http(s)://host[/path]")
			}
			switch keyward.WebhookKind(kind) {
			case keyward.WebhookNotify, keyward.WebhookRotator:
				in.Kind = keyward.WebhookKind(kind)
			default:
				return usagef("--kind must be notify or rotator")
			}
			if len(events.items) > 0 {
				if in.Kind != keyward.WebhookNotify {
					return usagef("--event applies to notify endpoints only")
				}
				in.Events = events.items
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			cw, err := c.CreateWebhook(e.ctx, in)
			if err != nil {
				return err
			}
			if cw == nil || cw.Webhook == nil {
				return keyward.Errorf(keyward.EINTERNAL, "the server returned no webhook")
			}
			e.st.secret(cw.Secret)
			if e.json {
				extra := map[string]any{}
				if cw.Secret != "" {
					extra["signingSecret"] = cw.Secret
				}
				m, err := merge(cw.Webhook, extra)
				if err != nil {
					return err
				}
				return writeJSON(e.stdout, m)
			}
			f := newFields(e.stdout)
			f.add("ID", cw.Webhook.ID)
			f.add("Kind", string(cw.Webhook.Kind))
			f.add("URL", cw.Webhook.URL)
			f.add("Signing secret", cw.Secret)
			if err := f.flush(); err != nil {
				return err
			}
			if cw.Secret != "" {
				warnf(e.stderr, "this signing secret is shown only once: store it now")
			}
			return nil
		}),
	}
	f := cmd.Flags()
	f.StringVar(&in.URL, "url", "", "endpoint URL, http(s) (required)")
	f.StringVar(&kind, "kind", string(keyward.WebhookNotify), "notify or rotator")
	f.Var(events, "event", "event type a notify endpoint hears of (repeatable; default all)")
	f.StringVar(&in.Principal, "principal", "", "make the endpoint this principal's (ID, name, or self)")
	f.StringVar(&in.Description, "description", "", "description")
	return cmd
}

func printWebhook(w io.Writer, wh *keyward.Webhook, n *names) error {
	f := newFields(w)
	f.add("ID", wh.ID)
	f.add("Kind", string(wh.Kind))
	f.add("URL", wh.URL)
	f.add("Description", wh.Description)
	if wh.Kind == keyward.WebhookNotify {
		f.add("Events", fmtEvents(wh.Events))
	}
	f.add("Principal", fmtWebhookPrincipal(n.label(kindPrincipal, wh.PrincipalID)))
	f.add("Created", fmtTime(wh.CreatedAt))
	return f.flush()
}

func fmtEvents(events []string) string {
	if len(events) == 0 {
		return "all"
	}
	return strings.Join(events, ", ")
}

func fmtWebhookPrincipal(id string) string {
	if id == "" {
		return "none (global)"
	}
	return id
}

func newWebhooksGetCmd() *cobra.Command {
	return getCmd("WEBHOOK_ID", "Show an endpoint (never its signing secret)", Client.GetWebhook, printWebhook)
}

func newWebhooksListCmd() *cobra.Command {
	return listCmd("List endpoints", Client.ListWebhooks,
		[]string{"ID", "KIND", "URL", "EVENTS", "PRINCIPAL", "CREATED"},
		func(wh *keyward.Webhook, n *names) []string {
			events := ""
			if wh.Kind == keyward.WebhookNotify {
				events = fmtEvents(wh.Events)
			}
			return []string{wh.ID, string(wh.Kind), wh.URL, events, n.label(kindPrincipal, wh.PrincipalID), fmtTime(wh.CreatedAt)}
		})
}

func newWebhooksDeleteCmd() *cobra.Command {
	return deleteCmd("WEBHOOK_ID", "Delete an endpoint and its deliveries", "webhook", "Webhook", Client.DeleteWebhook)
}

// deliveryStateFlag is --state of webhooks deliveries: a known state, in
// any case.
type deliveryStateFlag struct{ s keyward.DeliveryState }

func (f *deliveryStateFlag) String() string { return string(f.s) }
func (f *deliveryStateFlag) Type() string   { return "STATE" }
func (f *deliveryStateFlag) Set(s string) error {
	st := keyward.DeliveryState(strings.ToUpper(strings.TrimSpace(s)))
	switch st {
	case keyward.DeliveryPending, keyward.DeliveryDelivered, keyward.DeliveryFailed:
		f.s = st
		return nil
	}
	return fmt.Errorf("invalid state %q: want PENDING, DELIVERED or FAILED", s)
}

func newWebhooksDeliveriesCmd() *cobra.Command {
	var (
		page  pageFlags
		state deliveryStateFlag
		event string
	)
	cmd := &cobra.Command{
		Use:   "deliveries WEBHOOK_ID [--state S] [--event TYPE]",
		Short: "List an endpoint's deliveries and their attempts, newest first",
		Args:  exactArgs("WEBHOOK_ID"),
		RunE: run(func(e *env, args []string) error {
			if err := page.check(); err != nil {
				return err
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			ds, next, err := collect(e, page, func(p keyward.Page) ([]*keyward.Delivery, string, error) {
				return c.ListDeliveries(e.ctx, args[0], keyward.DeliveryFilter{EventType: event, State: state.s, Page: p})
			})
			if err != nil {
				return err
			}
			e.moreHint(next)
			return e.out(ds, func(w io.Writer) error { return printDeliveries(w, ds) })
		}),
	}
	cmd.Flags().Var(&state, "state", "only deliveries in this state: PENDING, DELIVERED or FAILED")
	cmd.Flags().StringVar(&event, "event", "", "only deliveries of this event type (e.g. key.rotated)")
	page.register(cmd)
	return cmd
}

func printDeliveries(w io.Writer, ds []*keyward.Delivery) error {
	t := newTable(w, "ID", "EVENT", "STATE", "ATTEMPTS", "LAST RESULT", "NEXT ATTEMPT", "CREATED")
	for _, d := range ds {
		last, next := "", ""
		if n := len(d.Attempts); n > 0 {
			a := d.Attempts[n-1]
			switch {
			case a.Error != "" && a.StatusCode != 0:
				last = strconv.Itoa(a.StatusCode) + " " + a.Error
			case a.Error != "":
				last = a.Error
			case a.StatusCode != 0:
				last = strconv.Itoa(a.StatusCode)
			}
		}
		if d.State == keyward.DeliveryPending {
			next = fmtTime(d.NextAttemptAt)
		}
		t.row(d.ID, d.EventType, string(d.State), strconv.Itoa(len(d.Attempts)), last, next, fmtTime(d.CreatedAt))
	}
	return t.flush()
}
