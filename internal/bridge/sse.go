package bridge

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// errEventTooLarge is returned for an SSE event over the size cap.
var errEventTooLarge = errors.New("an SSE event is larger than the cap")

// sseReader reads the events of a text/event-stream body (the WHATWG
// event-stream format): "data:" lines are joined with newlines and an event
// is dispatched at a blank line; "id:", "retry:" and comment lines are
// ignored, and so are events whose type is not "message".
type sseReader struct {
	r   *bufio.Reader
	max int
}

func newSSEReader(r io.Reader, max int) *sseReader {
	return &sseReader{r: bufio.NewReaderSize(r, 64<<10), max: max}
}

// next returns the data of the next message event. At the end of the body it
// returns io.EOF; an event cut off by the end is dropped, as the format says.
func (s *sseReader) next() ([]byte, error) {
	var data []byte
	var event string
	hasData := false
	for {
		line, err := s.line(s.max - len(data))
		if err != nil {
			return nil, err
		}
		if len(line) == 0 { // dispatch
			if hasData && (event == "" || event == "message") {
				return bytes.TrimSuffix(data, []byte("\n")), nil
			}
			data, event, hasData = data[:0], "", false
			continue
		}
		if line[0] == ':' {
			continue
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		switch string(field) {
		case "data":
			data = append(append(data, value...), '\n')
			hasData = true
		case "event":
			event = string(value)
		}
	}
}

// line reads one line without its line ending, refusing one over room bytes.
func (s *sseReader) line(room int) ([]byte, error) {
	var buf []byte
	for {
		chunk, err := s.r.ReadSlice('\n')
		if len(buf)+len(chunk) > room+2 {
			return nil, errEventTooLarge
		}
		buf = append(buf, chunk...)
		switch {
		case err == nil:
			return trimEOL(buf), nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			return nil, io.EOF
		default:
			return nil, fmt.Errorf("read event stream: %w", err)
		}
	}
}
