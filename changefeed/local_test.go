package changefeed_test

import (
	"context"
	"testing"

	"github.com/keyward/keyward"
	"github.com/keyward/keyward/changefeed"
)

func TestLocalFanOut(t *testing.T) {
	var f changefeed.Local
	a, endA := f.Subscribe()
	b, endB := f.Subscribe()
	defer endB()
	f.Publish(context.Background(), keyward.Change{Kind: keyward.ChangeKey, ID: "key_1"})
	for _, ch := range []<-chan keyward.Change{a, b} {
		if got := <-ch; got.Kind != keyward.ChangeKey || got.ID != "key_1" {
			t.Fatalf("got %+v", got)
		}
	}
	endA()
	endA() // ending twice is harmless
	if _, ok := <-a; ok {
		t.Fatal("channel still open after the subscription ended")
	}
	f.Publish(context.Background(), keyward.Change{Kind: keyward.ChangePlan})
	if got := <-b; got.Kind != keyward.ChangePlan {
		t.Fatalf("got %+v", got)
	}
}

// A subscriber that does not read never blocks a publisher, and still has
// an unread notice waiting after the last publish.
func TestLocalSlowSubscriberNeverBlocks(t *testing.T) {
	var f changefeed.Local
	ch, end := f.Subscribe()
	defer end()
	for range 10 * 64 {
		f.Publish(context.Background(), keyward.Change{Kind: keyward.ChangeAPI})
	}
	if len(ch) == 0 {
		t.Fatal("no notice pending after publishing")
	}
}
