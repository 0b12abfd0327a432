package sink

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// Elasticsearch indexes records through the _bulk API: one NDJSON body per
// batch, an "index" action per document whose _id is the record ID, so a
// resend overwrites instead of duplicating.
type Elasticsearch struct {
	// URL is the cluster address, e.g. https://es.example:9200.
	URL string
	// Index is the target index or data stream alias.
	Index string
	// APIKey (the base64 "id:key" form Elasticsearch returns as
	// "encoded") or Username/Password authenticate; both are optional.
	APIKey             string
	Username, Password string
	Client             *http.Client
}

// DefaultIndex is where alerts go unless told otherwise.
const DefaultIndex = "compile-lineage-alerts"

// Name names the sink in logs.
func (e *Elasticsearch) Name() string { return "elasticsearch" }

// BulkBody builds the _bulk request body of a batch.
func BulkBody(index string, batch []Record) ([]byte, error) {
	var b bytes.Buffer
	for _, r := range batch {
		action, err := json.Marshal(map[string]map[string]string{"index": {"_index": index, "_id": r.ID}})
		if err != nil {
			return nil, fmt.Errorf("bulk action %s: %w", r.ID, err)
		}
		b.Write(action)
		b.WriteByte('\n')
		doc := bytes.TrimSpace(r.Doc)
		if bytes.IndexByte(doc, '\n') >= 0 {
			return nil, fmt.Errorf("bulk document %s: contains a newline", r.ID)
		}
		b.Write(doc)
		b.WriteByte('\n')
	}
	return b.Bytes(), nil
}

type bulkResponse struct {
	Errors bool `json:"errors"`
	Items  []map[string]struct {
		ID     string          `json:"_id"`
		Status int             `json:"status"`
		Error  json.RawMessage `json:"error"`
	} `json:"items"`
}

// Send posts one _bulk request.
func (e *Elasticsearch) Send(ctx context.Context, batch []Record) error {
	if len(batch) == 0 {
		return nil
	}
	index := e.Index
	if index == "" {
		index = DefaultIndex
	}
	body, err := BulkBody(index, batch)
	if err != nil {
		return &Permanent{Err: err}
	}
	h := http.Header{}
	switch {
	case e.APIKey != "":
		h.Set("Authorization", "ApiKey "+e.APIKey)
	case e.Username != "":
		h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(e.Username+":"+e.Password)))
	}
	status, resp, err := post(ctx, e.Client, strings.TrimRight(e.URL, "/")+"/_bulk", "application/x-ndjson", h, body)
	if err != nil {
		return err
	}
	if status < 200 || status > 299 {
		err := fmt.Errorf("elasticsearch _bulk: status %d: %s", status, snippet(resp))
		if retryable(status) {
			return err
		}
		return &Permanent{Err: err}
	}
	return bulkResult(resp, len(batch))
}

// bulkResult reads a 2xx _bulk response for n documents: nil when all were
// indexed, a *BatchError naming the items to retry and those rejected, or
// an error (retry all) when the response cannot be read.
func bulkResult(resp []byte, n int) error {
	var br bulkResponse
	if err := json.Unmarshal(resp, &br); err != nil {
		return fmt.Errorf("elasticsearch _bulk: response: %w", err)
	}
	if !br.Errors {
		return nil
	}
	if len(br.Items) != n {
		return fmt.Errorf("elasticsearch _bulk: %d items in the response for %d documents", len(br.Items), n)
	}
	be := &BatchError{Cause: "elasticsearch _bulk: some documents failed", Rejected: map[int]string{}}
	for i, it := range br.Items {
		// One action per item; should a response carry more, a retryable
		// failure wins over a rejection.
		retry, reject := false, ""
		for _, res := range it {
			switch {
			case res.Status >= 200 && res.Status <= 299:
			case retryable(res.Status):
				retry = true
			case reject == "":
				reject = fmt.Sprintf("status %d: %s", res.Status, snippet(res.Error))
			}
		}
		switch {
		case retry:
			be.Retry = append(be.Retry, i)
		case reject != "":
			be.Rejected[i] = reject
		}
	}
	if len(be.Retry) == 0 && len(be.Rejected) == 0 {
		return nil
	}
	return be
}
