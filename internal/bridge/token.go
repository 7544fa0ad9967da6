package bridge

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/mcp-keys/mcp-keys/internal/fileperm"

	"github.com/rs/zerolog"

	"github.com/mcp-keys/mcp-keys/internal/client"
)

// maxTokenFileBytes caps the token file.
const maxTokenFileBytes = 16 << 10

// ReadToken returns the caller token, read once at start from tokenFile
// (MCP_KEYS_TOKEN_FILE) or taken from token (MCP_KEYS_TOKEN); surrounding
// whitespace is trimmed. Both set, neither set, an unreadable or empty file
// are configuration errors ([ErrConfig]). A token file that group or others
// can read is used, with a warning on logger. Errors and log lines name the
// file, never the token.
func ReadToken(tokenFile string, token client.Secret, logger zerolog.Logger) (client.Secret, error) {
	switch {
	case tokenFile != "" && token != "":
		return "", configError("both MCP_KEYS_TOKEN and MCP_KEYS_TOKEN_FILE are set; set only one")
	case token != "":
		tok := client.Secret(strings.TrimSpace(token.Reveal()))
		if err := checkToken(tok); err != nil {
			return "", fmt.Errorf("MCP_KEYS_TOKEN: %w", err)
		}
		return tok, nil
	case tokenFile != "":
		tok, err := readTokenFile(tokenFile, logger)
		if err != nil {
			return "", err
		}
		if err := checkToken(tok); err != nil {
			return "", fmt.Errorf("MCP_KEYS_TOKEN_FILE %s: %w", tokenFile, err)
		}
		return tok, nil
	}
	return "", configError("no caller token: set MCP_KEYS_TOKEN_FILE to a file holding the token the operator gave you (`mcp-keys caller add NAME`), or MCP_KEYS_TOKEN")
}

// readTokenFile reads a regular file of at most maxTokenFileBytes.
func readTokenFile(path string, logger zerolog.Logger) (client.Secret, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", configError("MCP_KEYS_TOKEN_FILE: %v", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", configError("MCP_KEYS_TOKEN_FILE: %v", err)
	}
	if !fi.Mode().IsRegular() {
		return "", configError("MCP_KEYS_TOKEN_FILE %s is not a regular file", path)
	}
	if problem := fileperm.Problem("MCP_KEYS_TOKEN_FILE "+path, fi, fileperm.NoAccess); problem != "" {
		logger.Warn().Msg(problem) // the caller's own file: warned about, still used
	}
	b, err := io.ReadAll(io.LimitReader(f, maxTokenFileBytes+1))
	if err != nil {
		return "", configError("MCP_KEYS_TOKEN_FILE %s: read: %v", path, err)
	}
	if len(b) > maxTokenFileBytes {
		return "", configError("MCP_KEYS_TOKEN_FILE %s is larger than %d bytes", path, maxTokenFileBytes)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", configError("MCP_KEYS_TOKEN_FILE %s is empty", path)
	}
	return client.Secret(tok), nil
}
