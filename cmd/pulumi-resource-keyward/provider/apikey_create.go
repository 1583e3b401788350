package provider

import (
	"context"
	"fmt"
	"time"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/httpapi"
)

// createKey calls CreateKey with a client token and retries it while the
// server is unreachable, so a lost answer does not leave a second key
// behind. A retried call that the server answers from its idempotency
// record comes back without the value (it is shown once): when the value
// was to be returned, that key is deleted and a new one created.
func createKey(ctx context.Context, c *httpapi.Client, in keyward.KeyCreate, name string) (*keyward.CreatedKey, error) {
	in.ClientToken = clientToken(name)
	var lastErr error
	for attempt, wait := 0, time.Duration(0); attempt < 4; attempt++ {
		if wait > 0 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(wait):
			}
		}
		out, err := c.CreateKey(ctx, in)
		switch {
		case err == nil && (in.StoreSecret != "" || out.Value != ""):
			return out, nil
		case err == nil && in.Value != "": // a replay of an import: the value is known
			out.Value = in.Value
			return out, nil
		case err == nil: // a replay: the value is gone with the lost answer
			if derr := c.DeleteKey(ctx, out.Key.ID); derr != nil && !notFound(derr) {
				return nil, fmt.Errorf("key %s was created but its value was lost, and deleting it failed: %w", out.Key.ID, derr)
			}
			in.ClientToken = clientToken(name)
			lastErr, wait = keyward.Errorf(keyward.EUNAVAILABLE, "the answer carrying the key value was lost"), 0
		case keyward.ErrorCode(err) == keyward.EUNAVAILABLE && ctx.Err() == nil:
			lastErr, wait = err, time.Duration(attempt+1)*time.Second
		default:
			return nil, err
		}
	}
	return nil, lastErr
}
