package transport

import (
	"context"
	"errors"
	"io"
	"sync"
	"testing"
)

// TestInboxPush: after setPush, queued items go to the function first,
// then every put, then the end error once; a dropped end is not pushed.
func TestInboxPush(t *testing.T) {
	for _, drop := range []bool{false, true} {
		q := newInbox(4)
		ctx := context.Background()
		if err := q.put(ctx, item{msg: Message{Raw: []byte("a")}}); err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		var got []string
		q.setPush(func(m Message, err error) {
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				got = append(got, "err:"+err.Error())
				return
			}
			got = append(got, string(m.Raw))
		})
		if err := q.put(ctx, item{msg: Message{Raw: []byte("b")}}); err != nil {
			t.Fatal(err)
		}
		if err := q.put(ctx, item{err: ErrSessionExpired}); err != nil {
			t.Fatal(err)
		}
		q.finish(io.EOF, drop)
		q.finish(io.ErrUnexpectedEOF, false) // only the first counts
		want := []string{"a", "b", "err:" + ErrSessionExpired.Error()}
		if !drop {
			want = append(want, "err:EOF")
		}
		mu.Lock()
		if len(got) != len(want) {
			t.Errorf("drop=%v: pushed %q, want %q", drop, got, want)
		} else {
			for i := range want {
				if got[i] != want[i] {
					t.Errorf("drop=%v: pushed %q, want %q", drop, got, want)
					break
				}
			}
		}
		mu.Unlock()
		if err := q.put(ctx, item{msg: Message{Raw: []byte("late")}}); !errors.Is(err, io.EOF) {
			t.Errorf("put after finish = %v, want the end error", err)
		}
	}
}
