package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Realtime fan-out: many SSE clients subscribed to notes/* with one
// credential (the user's JWT, or one API key), and a run of events; the
// time until every client has received every event. A key must cost no
// more per message than a session.

// sseClient is one realtime connection of the user.
type sseClient struct {
	id     string
	cancel context.CancelFunc
	events atomic.Int64 // record events received
	done   chan struct{}
}

// connectSSE opens a realtime connection, waits for its PB_CONNECT and
// subscribes it to notes/* with authorization.
func connectSSE(base, authorization string, client *http.Client) (*sseClient, error) {
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/realtime", nil)
	res, err := client.Do(req)
	if err != nil {
		cancel()
		return nil, err
	}
	c := &sseClient{cancel: cancel, done: make(chan struct{})}
	connected := make(chan string, 1)
	go func() {
		defer close(c.done)
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		var name string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event:"):
				name = strings.TrimPrefix(line, "event:")
			case strings.HasPrefix(line, "data:") && name == "PB_CONNECT":
				var data struct{ ClientID string }
				_ = json.Unmarshal([]byte(strings.TrimPrefix(line, "data:")), &data)
				connected <- data.ClientID
			case strings.HasPrefix(line, "data:") && name == "notes/*":
				c.events.Add(1)
			}
		}
	}()
	select {
	case c.id = <-connected:
	case <-time.After(30 * time.Second):
		cancel()
		return nil, errors.New("no PB_CONNECT within 30 s")
	}
	body, _ := json.Marshal(map[string]any{"clientId": c.id, "subscriptions": []string{"notes/*"}})
	if err := callWith(client, base, http.MethodPost, "/api/realtime", authorization, json.RawMessage(body), nil); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

func (c *sseClient) close() {
	c.cancel()
	<-c.done
}

// fanOutResult is one phase: how long n clients took to receive every
// one of the events.
type fanOutResult struct {
	name            string
	clients, events int
	elapsed         time.Duration
	missing         int64 // events not received when the phase gave up
}

func (r fanOutResult) print() {
	note := ""
	if r.missing > 0 {
		note = fmt.Sprintf("  (%d events never arrived)", r.missing)
	}
	fmt.Printf("%-40s %4d SSE clients  %4d events  %7.2f s%s\n", r.name, r.clients, r.events, r.elapsed.Seconds(), note)
}

// fanOut connects n clients with authorization, creates events notes of
// the user, and measures the time from the first note until every client
// has received every event.
func (s *server) fanOut(name string, fx *fixture, authorization string, n, events int) (fanOutResult, error) {
	time.Sleep(time.Second) // settle after the previous phase
	transport := &http.Transport{MaxIdleConnsPerHost: n + 8, DisableCompression: true}
	defer transport.CloseIdleConnections()
	httpClient := &http.Client{Transport: transport}
	clients := make([]*sseClient, n)
	var wg sync.WaitGroup
	var failed atomic.Value
	for i := range clients {
		wg.Go(func() {
			c, err := connectSSE(s.base, authorization, httpClient)
			if err != nil {
				failed.Store(err)
				return
			}
			clients[i] = c
		})
	}
	wg.Wait()
	defer func() {
		for _, c := range clients {
			if c != nil {
				c.close()
			}
		}
	}()
	if err, _ := failed.Load().(error); err != nil {
		return fanOutResult{}, fmt.Errorf("%s: connect: %w", name, err)
	}

	start := time.Now()
	for i := range events {
		err := call(s.base, http.MethodPost, "/api/collections/notes/records", fx.adminJWT,
			map[string]any{"owner": fx.userID, "title": fmt.Sprintf("event %d", i)}, nil)
		if err != nil {
			return fanOutResult{}, fmt.Errorf("%s: event %d: %w", name, i, err)
		}
	}
	want := int64(events)
	deadline := time.Now().Add(2 * time.Minute)
	var missing int64
	for {
		missing = 0
		for _, c := range clients {
			missing += max(want-c.events.Load(), 0)
		}
		if missing == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	r := fanOutResult{name: name, clients: n, events: events, elapsed: time.Since(start), missing: missing}
	r.print()
	return r, nil
}

// callWith is call with a given client (many connections at once).
func callWith(client *http.Client, base, method, path, authorization string, body json.RawMessage, out any) error {
	req, err := http.NewRequest(method, base+path, strings.NewReader(string(body)))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	res, err := client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %d", method, path, res.StatusCode)
	}
	if out != nil {
		return json.NewDecoder(res.Body).Decode(out)
	}
	return nil
}
