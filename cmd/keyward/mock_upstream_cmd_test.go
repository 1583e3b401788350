package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/netip"
	"regexp"
	"strings"
	"testing"
)

func TestMockUpstreamCommand(t *testing.T) {
	cmd := mockUpstreamCommand()
	def, err := netip.ParseAddrPort(cmd.Flags().Lookup("addr").DefValue)
	if err != nil || !def.Addr().IsLoopback() {
		t.Errorf("default --addr %v (%v): want a loopback address", def, err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	cmd.SetArgs([]string{"--addr", "127.0.0.1:0"})
	cmd.SetOut(pw)
	done := make(chan error, 1)
	go func() {
		done <- cmd.ExecuteContext(ctx)
		pw.Close()
	}()

	// The first line says where it listens.
	first, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("no first line: %v (%q)", err, first)
	}
	go io.Copy(io.Discard, pr)
	m := regexp.MustCompile(`^keyward mock upstream \(OpenAI-compatible\): (http://127\.0\.0\.1:\d+)\n$`).FindStringSubmatch(first)
	if m == nil {
		t.Fatalf("first line %q", first)
	}
	url := m[1]

	resp, err := http.Post(url+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi there"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var reply struct {
		Model   string `json:"model"`
		Choices []struct {
			Message struct {
				Role    string `json:"role"`
				Content string `json:"content"`
			} `json:"message"`
		} `json:"choices"`
		Usage struct {
			PromptTokens     int `json:"prompt_tokens"`
			CompletionTokens int `json:"completion_tokens"`
		} `json:"usage"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&reply); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || reply.Model != "gpt-4o-mini" || len(reply.Choices) != 1 ||
		reply.Choices[0].Message.Role != "assistant" || reply.Choices[0].Message.Content != "Hello from the keyward mock upstream." ||
		reply.Usage.PromptTokens != 2 || reply.Usage.CompletionTokens != 7 {
		t.Errorf("status %d, reply %+v", resp.StatusCode, reply)
	}

	// Cancelled (Ctrl-C), it stops cleanly and the port closes.
	cancel()
	if err := <-done; err != nil {
		t.Errorf("stopped with %v", err)
	}
	if resp, err := http.Get(url + "/v1/models"); err == nil {
		resp.Body.Close()
		t.Errorf("still serving after it stopped")
	}
}
