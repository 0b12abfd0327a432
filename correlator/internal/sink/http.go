package sink

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
)

// maxResponse bounds how much of a SIEM's response is read.
const maxResponse = 4 << 20

// post sends body and returns the status and (bounded) response body.
// Header values are set as given; they are never logged.
func post(ctx context.Context, c *http.Client, url, contentType string, header http.Header, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, fmt.Errorf("request %s: %w", redact(url), err)
	}
	req.Header.Set("Content-Type", contentType)
	for k, v := range header {
		req.Header[k] = v
	}
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("post %s: %w", redact(url), err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("read response of %s: %w", redact(url), err)
	}
	return resp.StatusCode, b, nil
}

// redact drops user information from a URL for messages.
func redact(url string) string {
	for i := 0; i+3 <= len(url); i++ {
		if url[i:i+3] == "://" {
			rest := url[i+3:]
			for j := 0; j < len(rest) && rest[j] != '/'; j++ {
				if rest[j] == '@' {
					return url[:i+3] + "REDACTED@" + rest[j+1:]
				}
			}
			break
		}
	}
	return url
}

// retryable reports whether an HTTP status is worth retrying: throttling,
// server errors, and authentication (a token may be fixed while alerts
// wait). 400 and 413-style refusals of the request itself are not.
func retryable(status int) bool {
	switch {
	case status == http.StatusTooManyRequests, status >= 500:
		return true
	case status == http.StatusUnauthorized, status == http.StatusForbidden, status == http.StatusNotFound, status == http.StatusRequestTimeout:
		return true
	}
	return false
}

func snippet(b []byte) string {
	if len(b) > 200 {
		b = b[:200]
	}
	return string(bytes.TrimSpace(b))
}
