// Command fleetdemo plays the fleet scenario for a person: an in-process
// Kafka (kfake), correlator members as child processes of the given binary,
// one member killed with SIGKILL mid-stream and one joining later. It prints
// progress and, as its last line, one JSON summary:
//
//	{"hosts":N,"lines":N,"members":N,"killed":N,"alerts":N,"expected_alerts":N,"duplicates":N,"lost":N}
//
// Usage: fleetdemo --bin build/correlator [--hosts 1200] [--members 3] [--partitions 12]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/compilelineage/compile-lineage/correlator/internal/fleetsim"
)

func main() {
	bin := flag.String("bin", "build/correlator", "correlator binary to run as members")
	hosts := flag.Int("hosts", 1200, "simulated hosts")
	members := flag.Int("members", 3, "members started at the beginning")
	partitions := flag.Int("partitions", 12, "partitions of the input and by-host topics")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	dir, err := os.MkdirTemp("", "fleetdemo-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "fleetdemo:", err)
		os.Exit(1)
	}
	defer os.RemoveAll(dir)
	res, err := fleetsim.Run(ctx, fleetsim.Options{Bin: *bin, Dir: dir, Hosts: *hosts, Partitions: int32(*partitions), Members: *members, Kill: true, Join: true, Progress: os.Stdout})
	if err != nil {
		fmt.Fprintln(os.Stderr, "fleetdemo:", err)
		os.Exit(1)
	}
	for _, s := range res.Mismatched {
		fmt.Println("mismatch:", s)
	}
	for _, s := range res.Extra {
		fmt.Println("not in the batch run:", s)
	}
	for _, s := range res.OrderViolations {
		fmt.Println("order:", s)
	}
	fmt.Printf("alert ids delivered %d (sequential run %d); drain after the kill %s, largest lag %d records; %d state entries restored from the changelog\n", res.Emitted, res.SequentialIDs, res.DrainAfterKill.Round(1e6), res.MaxLagAfterKill, res.RestoredEntries)
	fmt.Println(res.Summary())
	if res.Duplicates > 0 || res.Lost > 0 || len(res.Mismatched) > 0 || len(res.Extra) > 0 || len(res.OrderViolations) > 0 {
		os.Exit(1)
	}
}
