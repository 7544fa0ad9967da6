package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// Sidecar files beside a log at PATH, all 0600:
//
//	PATH.ckpt              the checkpoint: the last record made durable
//	PATH.idx               a snapshot of the file store's index (a cache)
//	PATH.state             the journal of used confirmations and leases
//	PATH.confirmation-key  the key that signs confirmation request states
const (
	checkpointSuffix = ".ckpt"
	indexSuffix      = ".idx"
	stateSuffix      = ".state"
	confKeySuffix    = ".confirmation-key"
)

// checkpointSize is the checkpoint file's fixed size: it is rewritten in
// place with one write.
const checkpointSize = 256

// checkpoint names the last record a store made durable (fsync): its Seq,
// the offset just after its line and the hex SHA-256 of the line, with, in
// a keyed store, a MAC over the three under the chain key.
type checkpoint struct {
	V      int    `json:"v"`
	Seq    int64  `json:"seq"`
	Offset int64  `json:"offset"`
	SHA    string `json:"sha256"`
	MAC    string `json:"mac,omitempty"`
}

// encode returns the checkpoint as its fixed-size file content.
func (c checkpoint) encode(key []byte) []byte {
	c.V = 1
	c.MAC = ""
	if key != nil {
		c.MAC = checkpointMAC(key, c.Seq, c.Offset, c.SHA)
	}
	b, _ := json.Marshal(c) // cannot fail: ints and hex strings
	out := bytes.Repeat([]byte(" "), checkpointSize)
	copy(out, b)
	out[checkpointSize-1] = '\n'
	return out
}

// readCheckpoint reads the checkpoint from f. It reports ok false when
// there is none or it cannot be read (a torn write); with a key, a
// checkpoint whose MAC is wrong or missing is a *VerifyError, and so is a
// keyed one read without a key.
func readCheckpoint(f io.ReaderAt, key []byte) (checkpoint, bool, error) {
	buf := make([]byte, checkpointSize)
	n, err := f.ReadAt(buf, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return checkpoint{}, false, fmt.Errorf("read the checkpoint: %w", err)
	}
	var c checkpoint
	dec := json.NewDecoder(bytes.NewReader(bytes.TrimRight(buf[:n], " \n")))
	dec.DisallowUnknownFields()
	if n == 0 || dec.Decode(&c) != nil || c.V != 1 || c.Seq < 1 || c.Offset < 1 || !isHexHash(c.SHA) {
		return checkpoint{}, false, nil
	}
	switch {
	case key == nil && c.MAC != "":
		return checkpoint{}, false, &VerifyError{Line: int(c.Seq), Msg: "the checkpoint is keyed and no chain key was given " +
			"(set MCP_KEYS_AUDIT_KEY_FILE)"}
	case key != nil && !macEqual(c.MAC, checkpointMAC(key, c.Seq, c.Offset, c.SHA)):
		return checkpoint{}, false, &VerifyError{Line: int(c.Seq), Msg: "the checkpoint beside the log fails its MAC " +
			"(written without this chain key, or edited)"}
	}
	return c, true, nil
}

// openCheckpointRead opens the checkpoint of the log at path for reading;
// it returns nil and no error when there is none.
func openCheckpointRead(path string) (*os.File, error) {
	f, err := openRead(path + checkpointSuffix)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return f, err
}

// cutTail is the problem of a log that ends before its checkpoint.
func cutTail(c checkpoint, seq int64) *VerifyError {
	return &VerifyError{Line: int(c.Seq), Msg: fmt.Sprintf("record %d was made durable before, but the log ends at record %d: "+
		"records were cut off the end, or the log was replaced (to start a new log, move the log and its "+
		"%s and %s files aside together)", c.Seq, seq, checkpointSuffix, indexSuffix)}
}

// notCheckpointed is the problem of a record that differs from the
// checkpoint's.
func notCheckpointed(c checkpoint) *VerifyError {
	return &VerifyError{Line: int(c.Seq), Msg: fmt.Sprintf("record %d is not the one the checkpoint names "+
		"(the log was rewritten or replaced)", c.Seq)}
}
