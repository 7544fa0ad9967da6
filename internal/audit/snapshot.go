package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"time"
)

// maxSnapshotBytes bounds the index snapshot read at start-up.
const maxSnapshotBytes = 1 << 30

// snapshot is the index file: the file store's index as it was after the
// record Seq, whose line ends at Offset, is LineLen bytes long ("\n"
// included) and has the hex SHA-256 SHA. The file is the JSON body, "\n",
// and the hex HMAC-SHA256 of the body under the chain key (keyed) or its
// SHA-256 (unkeyed, against damage only), "\n". It is a cache: when it is
// missing, unreadable, fails its MAC or does not match the log, the index
// is rebuilt from the log, which is verified from its first record.
type snapshot struct {
	V       int                  `json:"v"`
	Keyed   bool                 `json:"keyed"`
	Seq     int64                `json:"seq"`
	Offset  int64                `json:"offset"`
	LineLen int                  `json:"line_len"`
	SHA     string               `json:"sha256"`
	Newest  time.Time            `json:"newest"`
	Window  []intentEntry        `json:"window"`
	Minted  map[string]mintEntry `json:"minted"`
}

// snapshotAuth authenticates (keyed) or checksums (unkeyed) a body.
func snapshotAuth(key, body []byte) string {
	if key != nil {
		return indexMAC(key, body)
	}
	return hashLine(body)
}

// loadSnapshot replaces the store's verified state by the index snapshot
// when there is a usable one; otherwise it leaves the state empty, so that
// the log is read from its start.
func (s *FileStore) loadSnapshot() {
	f, err := openRead(s.path + indexSuffix)
	if err != nil {
		return
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSnapshotBytes))
	if err != nil {
		return
	}
	data = bytes.TrimSuffix(data, []byte("\n"))
	i := bytes.LastIndexByte(data, '\n')
	if i < 0 {
		return
	}
	body, auth := data[:i], string(data[i+1:])
	if !macEqual(auth, snapshotAuth(s.key, body)) {
		return
	}
	var sn snapshot
	if err := json.Unmarshal(body, &sn); err != nil || sn.V != 1 || sn.Keyed != (s.key != nil) ||
		sn.Seq < 1 || sn.LineLen < 2 || sn.Offset < int64(sn.LineLen) || sn.LineLen > MaxLineBytes+1 {
		return
	}
	fi, err := s.f.Stat()
	if err != nil || fi.Size() < sn.Offset {
		return
	}
	line := make([]byte, sn.LineLen)
	if _, err := s.f.ReadAt(line, sn.Offset-int64(sn.LineLen)); err != nil ||
		line[len(line)-1] != '\n' || hashLine(line[:len(line)-1]) != sn.SHA {
		return
	}
	if sn.Offset > int64(sn.LineLen) { // the line must start a line
		var b [1]byte
		if _, err := s.f.ReadAt(b[:], sn.Offset-int64(sn.LineLen)-1); err != nil || b[0] != '\n' {
			return
		}
	}
	if rec, err := decodeLine(line[:len(line)-1]); err != nil || rec.Seq != sn.Seq {
		return
	}
	if sn.Minted == nil {
		sn.Minted = make(map[string]mintEntry)
	}
	s.v = verifier{key: s.key, seq: sn.Seq, prevSHA: sn.SHA}
	s.off, s.head, s.sinceSnap = sn.Offset, sn.LineLen, 0
	s.ix = index{window: sn.Window, minted: sn.Minted, newest: sn.Newest}
}

// saveSnapshot writes the index snapshot of the verified state (a new file
// renamed into place). It is a cache: failing to write it costs a longer
// start-up, nothing else, so errors are dropped.
func (s *FileStore) saveSnapshot() {
	if s.v.seq == 0 {
		return
	}
	_ = s.writeSnapshot()
}

func (s *FileStore) writeSnapshot() error {
	sn := snapshot{V: 1, Keyed: s.key != nil, Seq: s.v.seq, Offset: s.off, LineLen: s.head, SHA: s.v.prevSHA,
		Newest: s.ix.newest, Window: s.ix.window, Minted: s.ix.minted}
	body, err := json.Marshal(sn)
	if err != nil {
		return err
	}
	dir, base := filepath.Split(s.path)
	tmp, err := os.CreateTemp(dir, base+indexSuffix+".*.tmp")
	if err != nil {
		return err
	}
	name := tmp.Name()
	_, err = tmp.Write(append(append(append(body, '\n'), snapshotAuth(s.key, body)...), '\n'))
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(name, s.path+indexSuffix)
	}
	if err != nil {
		_ = os.Remove(name)
		return errors.Join(errors.New("write the index snapshot"), err)
	}
	s.sinceSnap = 0
	return nil
}
