package main

import (
	"bufio"
	"io"
	"strings"
	"testing"
)

// Each answer is followed by "NEXT" so that a test sees where the reader stopped.
func TestReadResponseFramesEachAnswerAndLeavesTheNextOneUnread(t *testing.T) {
	cases := []struct {
		name, wire string
		head       bool
		status     int
		keepAlive  bool
	}{
		{"content length", "HTTP/1.1 404 Not Found\r\ncontent-length: 5\r\n\r\nabcdeNEXT", false, 404, true},
		{"chunked, with an extension and a trailer",
			"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\nA\r\n0123456789\r\n0\r\nX-T: 1\r\n\r\nNEXT",
			false, 200, true},
		{"an interim 100 before the answer", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\n{}NEXT", false, 202, true},
		{"HEAD has no body whatever its length says", "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\nNEXT", true, 200, true},
		{"204 has no body", "HTTP/1.1 204 No Content\r\n\r\nNEXT", false, 204, true},
		{"Connection: close", "HTTP/1.1 503 Busy\r\nConnection: close\r\nContent-Length: 0\r\n\r\nNEXT", false, 503, false},
		{"bare LFs and no reason phrase", "HTTP/1.1 200\nContent-Length: 1\n\nxNEXT", false, 200, true},
		{"HTTP/1.0 closes by default", "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nxNEXT", false, 200, false},
		{"HTTP/1.0 with keep-alive", "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 1\r\n\r\nxNEXT", false, 200, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := bufio.NewReaderSize(strings.NewReader(c.wire), 64)
			status, keepAlive, err := readResponse(r, c.head)
			if err != nil || status != c.status || keepAlive != c.keepAlive {
				t.Fatalf("got %d, keep-alive %v, %v; want %d, %v", status, keepAlive, err, c.status, c.keepAlive)
			}
			if rest, _ := io.ReadAll(r); string(rest) != "NEXT" {
				t.Fatalf("left %q unread, want NEXT", rest)
			}
		})
	}
}

func TestWithoutLengthOrChunksTheBodyRunsToTheCloseAndTheConnectionIsNotReused(t *testing.T) {
	r := bufio.NewReader(strings.NewReader("HTTP/1.1 200 OK\r\n\r\nbody until close"))
	status, keepAlive, err := readResponse(r, false)
	if err != nil || status != 200 || keepAlive {
		t.Fatalf("got %d, keep-alive %v, %v", status, keepAlive, err)
	}
}

func TestBrokenAnswersAreErrorsOfTheirKind(t *testing.T) {
	cases := map[string]struct{ wire, kind string }{
		"closed before answering": {"", kindClosed},
		"closed mid-head":         {"HTTP/1.1 200 OK\r\nContent-Le", kindClosed},
		"closed mid-body":         {"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", kindClosed},
		"not HTTP":                {"SSH-2.0-OpenSSH\r\n\r\n", kindProtocol},
		"bad length":              {"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", kindProtocol},
		"bad chunk size":          {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", kindProtocol},
		"a header line too long":  {"HTTP/1.1 200 OK\r\nX: " + strings.Repeat("a", readBufferSize) + "\r\n\r\n", kindProtocol},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, _, err := readResponse(bufio.NewReaderSize(strings.NewReader(c.wire), readBufferSize), false)
			if err == nil || classify(err) != c.kind {
				t.Fatalf("got %v (%s), want %s", err, classify(err), c.kind)
			}
		})
	}
}

func TestAPlanEntryIsRenderedOnceAsTheBytesSent(t *testing.T) {
	got, err := renderRequest("POST", "/api/media/analyze", "127.0.0.1", []byte(`{"a":1}`), true)
	want := "POST /api/media/analyze HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n{\"a\":1}"
	if err != nil || string(got) != want {
		t.Fatalf("got %q, %v", got, err)
	}
	for _, bad := range [][2]string{{"GET", "no-slash"}, {"GET", "/a b"}, {"GET", "/a\r\nX: y"}, {"get", "/"}} {
		if _, err := renderRequest(bad[0], bad[1], "127.0.0.1", nil, false); err == nil {
			t.Errorf("%q %q rendered", bad[0], bad[1])
		}
	}
	if _, err := renderRequest("HEAD", "/a?b=c", "[::1]", nil, false); err != nil {
		t.Fatalf("a good request refused: %v", err)
	}
}
