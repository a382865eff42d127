package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// A request is rendered once, when the plan is read, so that sending one is a
// single Write of bytes already made: nothing is formatted per request.
func renderRequest(method, path, host string, body []byte, hasBody bool) ([]byte, error) {
	if method == "" || !isToken(method) {
		return nil, fmt.Errorf("bad method %q", method)
	}
	if len(path) == 0 || path[0] != '/' || hasCtlOrSpace(path) {
		return nil, fmt.Errorf("bad path %q: it must start with / and hold no spaces or controls", path)
	}
	var b bytes.Buffer
	b.WriteString(method + " " + path + " HTTP/1.1\r\nHost: " + host + "\r\n")
	if hasBody {
		// As the Python generator sends it: the API's bodies are JSON.
		b.WriteString("Content-Type: application/json\r\nContent-Length: ")
		b.WriteString(strconv.Itoa(len(body)))
		b.WriteString("\r\n")
	}
	b.WriteString("\r\n")
	b.Write(body)
	return b.Bytes(), nil
}

func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 'A' || c > 'Z' {
			return false
		}
	}
	return true
}

func hasCtlOrSpace(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] == 0x7f {
			return true
		}
	}
	return false
}

// errProtocol marks an answer this reader cannot frame; the connection is then
// closed, as after any error, since its position in the stream is unknown.
var errProtocol = errors.New("malformed response")

func protocolError(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errProtocol, fmt.Sprintf(format, args...))
}

// readResponse reads one answer from r and discards its body: the generator
// only needs the status and where the next answer starts. keepAlive says
// whether the connection may carry another request. It allocates nothing on the
// common path (bufio's slices are read in place), which keeps the collector
// idle for the whole run.
func readResponse(r *bufio.Reader, head bool) (status int, keepAlive bool, err error) {
	for {
		var length int64
		var chunked bool
		status, keepAlive, length, chunked, err = readHead(r)
		if err != nil {
			return 0, false, err
		}
		if status == 101 {
			return 0, false, protocolError("101 Switching Protocols, never asked for")
		}
		// Other 1xx answers are interim (100 Continue); the real one follows.
		if status >= 100 && status < 200 {
			continue
		}
		switch {
		case head || status == 204 || status == 304:
			// No body, whatever the headers say.
		case chunked:
			err = discardChunked(r)
		case length >= 0:
			_, err = r.Discard(int(length))
		default:
			// Neither length nor chunks: the body ends when the server closes.
			_, err = io.Copy(io.Discard, r)
			keepAlive = false
		}
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return status, keepAlive, err
	}
}

// readHead reads a status line and headers. length is -1 when the answer
// carries no Content-Length.
func readHead(r *bufio.Reader) (status int, keepAlive bool, length int64, chunked bool, err error) {
	line, err := r.ReadSlice('\n')
	if err != nil {
		if err == io.EOF && len(line) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return 0, false, 0, false, lineError(err)
	}
	// "HTTP/1.1 200 OK\r\n": HTTP/1.1 keeps the connection open unless told not to.
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return 0, false, 0, false, protocolError("status line %q", line)
	}
	code, ok := digits(line[9:12])
	if !ok || (line[12] != ' ' && line[12] != '\r' && line[12] != '\n') {
		return 0, false, 0, false, protocolError("status line %q", line)
	}
	keepAlive, length = line[7] == '1', -1
	for {
		line, err = r.ReadSlice('\n')
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return 0, false, 0, false, lineError(err)
		}
		line = trimCRLF(line)
		if len(line) == 0 {
			return int(code), keepAlive, length, chunked, nil
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return 0, false, 0, false, protocolError("header %q", line)
		}
		name, value := line[:colon], bytes.TrimSpace(line[colon+1:])
		switch {
		case bytes.EqualFold(name, []byte("content-length")):
			n, ok := digits(value)
			if !ok || (length >= 0 && n != length) {
				return 0, false, 0, false, protocolError("content-length %q", value)
			}
			length = n
		case bytes.EqualFold(name, []byte("transfer-encoding")):
			chunked = containsFold(value, "chunked")
		case bytes.EqualFold(name, []byte("connection")):
			if containsFold(value, "close") {
				keepAlive = false
			} else if containsFold(value, "keep-alive") {
				keepAlive = true
			}
		}
	}
}

// discardChunked skips a chunked body: size lines (extensions ignored), data,
// and the trailer section up to its empty line.
func discardChunked(r *bufio.Reader) error {
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return lineError(err)
		}
		line = trimCRLF(line)
		if semi := bytes.IndexByte(line, ';'); semi >= 0 {
			line = line[:semi]
		}
		size, err := strconv.ParseInt(string(bytes.TrimSpace(line)), 16, 63)
		if err != nil || size < 0 {
			return protocolError("chunk size %q", line)
		}
		if size == 0 {
			for {
				trailer, err := r.ReadSlice('\n')
				if err != nil {
					return lineError(err)
				}
				if len(trimCRLF(trailer)) == 0 {
					return nil
				}
			}
		}
		if _, err := r.Discard(int(size)); err != nil {
			return err
		}
		crlf, err := r.ReadSlice('\n')
		if err != nil {
			return lineError(err)
		}
		if len(trimCRLF(crlf)) != 0 {
			return protocolError("no CRLF after a chunk")
		}
	}
}

// lineError turns a line longer than the read buffer into a protocol error:
// nothing the API or the origin sends comes near it, so one means a framing bug.
func lineError(err error) error {
	if err == bufio.ErrBufferFull {
		return protocolError("a status or header line longer than %d bytes", readBufferSize)
	}
	return err
}

func trimCRLF(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
	}
	if n := len(b); n > 0 && b[n-1] == '\r' {
		b = b[:n-1]
	}
	return b
}

// digits parses a non-negative decimal without allocating.
func digits(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// containsFold reports whether the comma-separated header value holds token,
// case-insensitively.
func containsFold(value []byte, token string) bool {
	for len(value) > 0 {
		item := value
		if comma := bytes.IndexByte(value, ','); comma >= 0 {
			item, value = value[:comma], value[comma+1:]
		} else {
			value = nil
		}
		if bytes.EqualFold(bytes.TrimSpace(item), []byte(token)) {
			return true
		}
	}
	return false
}
