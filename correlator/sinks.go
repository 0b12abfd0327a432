package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/compilelineage/compile-lineage/correlator/internal/alert"
	"github.com/compilelineage/compile-lineage/correlator/internal/ecs"
	"github.com/compilelineage/compile-lineage/correlator/internal/sink"
)

// formatFlag is --format: native alert JSON or ECS documents.
type formatFlag string

func (f *formatFlag) String() string { return string(*f) }
func (f *formatFlag) Set(v string) error {
	if v != "native" && v != "ecs" {
		return fmt.Errorf("format %q: want native or ecs", v)
	}
	*f = formatFlag(v)
	return nil
}

// encoder returns the alert encoder of a format (nil: native).
func (f formatFlag) encoder() alert.Encoder {
	if f == "ecs" {
		return ecs.Marshal
	}
	return nil
}

func registerFormat(fs *flag.FlagSet, f *formatFlag) {
	*f = "native"
	fs.Var(f, "format", "alert documents: native (the correlator's JSON) or ecs (Elastic Common Schema)")
}

// siemOptions are the flags of the Elasticsearch and Splunk sinks.
type siemOptions struct {
	esURL, esIndex, esAPIKeyEnv, esUser, esPasswordEnv string
	splunkURL, splunkTokenEnv, splunkSourcetype        string
	splunkIndex, spool                                 string
	tls                                                sink.TLS
	batch                                              int
	minBackoff, maxBackoff                             time.Duration
}

func (o *siemOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&o.esURL, "es-url", "", "Elasticsearch address (e.g. https://es.example:9200): ECS alerts through _bulk, _id = alert_id")
	fs.StringVar(&o.esIndex, "es-index", sink.DefaultIndex, "Elasticsearch index or data stream alias")
	fs.StringVar(&o.esAPIKeyEnv, "es-api-key-env", "CORRELATOR_ES_API_KEY", "environment variable holding the Elasticsearch API key (encoded form), if set")
	fs.StringVar(&o.esUser, "es-user", "", "Elasticsearch user for basic authentication (instead of an API key)")
	fs.StringVar(&o.esPasswordEnv, "es-password-env", "CORRELATOR_ES_PASSWORD", "environment variable holding the Elasticsearch password")
	fs.StringVar(&o.splunkURL, "splunk-url", "", "Splunk HTTP Event Collector address (e.g. https://splunk.example:8088)")
	fs.StringVar(&o.splunkTokenEnv, "splunk-token-env", "CORRELATOR_SPLUNK_TOKEN", "environment variable holding the HEC token")
	fs.StringVar(&o.splunkSourcetype, "splunk-sourcetype", sink.DefaultSourcetype, "Splunk sourcetype of alerts")
	fs.StringVar(&o.splunkIndex, "splunk-index", "", "Splunk index (default: the token's)")
	fs.StringVar(&o.spool, "spool", "", "spool directory for SIEM alerts waiting for delivery (default: STATE.spool)")
	fs.StringVar(&o.tls.CAFile, "siem-ca", "", "PEM CA bundle to trust for the SIEMs (default: the system's)")
	fs.StringVar(&o.tls.CertFile, "siem-cert", "", "client certificate for the SIEMs (mutual TLS)")
	fs.StringVar(&o.tls.KeyFile, "siem-key", "", "client key for the SIEMs")
	fs.StringVar(&o.tls.ServerName, "siem-server-name", "", "name to check in the SIEMs' certificates")
	fs.BoolVar(&o.tls.InsecureSkipVerify, "siem-insecure", false, "do not check the SIEMs' certificates (lab use only)")
	fs.IntVar(&o.batch, "siem-batch", 500, "alerts per SIEM request")
	fs.DurationVar(&o.minBackoff, "siem-retry", time.Second, "first retry delay after a failed SIEM delivery (doubles up to --siem-retry-max)")
	fs.DurationVar(&o.maxBackoff, "siem-retry-max", time.Minute, "longest retry delay")
}

// siemSinks opens a spool per configured SIEM, starts its delivery, and
// returns the alert sinks that feed them. stop ends delivery.
func (o *siemOptions) siemSinks(ctx context.Context, statePath string, format formatFlag, logger hclog.Logger) (sinks []alert.Sink, stop func(), err error) {
	if o.esURL == "" && o.splunkURL == "" {
		return nil, func() {}, nil
	}
	client, err := o.tls.HTTPClient(30 * time.Second)
	if err != nil {
		return nil, nil, err
	}
	if o.tls.InsecureSkipVerify {
		logger.Warn("SIEM certificates are not checked (--siem-insecure)")
	}
	dir := o.spool
	if dir == "" {
		dir = statePath + ".spool"
	}
	type target struct {
		name string
		s    sink.Sink
		enc  alert.Encoder
	}
	var targets []target
	if o.esURL != "" {
		targets = append(targets, target{"elasticsearch", &sink.Elasticsearch{URL: o.esURL, Index: o.esIndex, APIKey: os.Getenv(o.esAPIKeyEnv),
			Username: o.esUser, Password: os.Getenv(o.esPasswordEnv), Client: client}, ecs.Marshal})
	}
	if o.splunkURL != "" {
		tok := os.Getenv(o.splunkTokenEnv)
		if tok == "" {
			return nil, nil, fmt.Errorf("--splunk-url: the HEC token variable %s is empty", o.splunkTokenEnv)
		}
		targets = append(targets, target{"splunk", &sink.SplunkHEC{URL: o.splunkURL, Token: tok, Sourcetype: o.splunkSourcetype, Index: o.splunkIndex, Client: client}, format.encoder()})
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, t := range targets {
		sp, err := sink.OpenSpool(filepath.Join(dir, t.name), t.s, sink.SpoolOptions{Batch: o.batch, MinBackoff: o.minBackoff, MaxBackoff: o.maxBackoff, Logger: logger.Named(t.name)})
		if err != nil {
			cancel()
			wg.Wait()
			return nil, nil, err
		}
		if n := sp.Pending(); n > 0 {
			logger.Info("alerts waiting in the spool from an earlier run", "sink", t.name, "pending", n)
		}
		wg.Add(1)
		go func() { defer wg.Done(); sp.Run(ctx) }()
		sinks = append(sinks, &sink.AlertQueue{Spool: sp, Encode: t.enc})
	}
	return sinks, func() { cancel(); wg.Wait() }, nil
}
