// go-hello: a Go workload (GOOS=wasip1 GOARCH=wasm, built by the Go toolchain unmodified).
// Arguments, environment, clocks and timers, goroutines, crypto/rand, the bundled assets read
// with package os from the read-only tree preopened at "/", and the exit code given by
// --exit=N. --panic panics (Go exits 2); --alloc-mib=N holds N MiB (to meet --max-memory);
// --serve=N answers N connections on the listen file named "ingest" through package net (Go's
// netpoller: non-blocking sockets and poll_oneoff).
package main

import (
	"bufio"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

func main() {
	fmt.Println("Hello from Go! (a wasip1 workload)")
	code, serve := 0, 0
	for i, arg := range os.Args {
		fmt.Printf("argv[%d]=%s\n", i, arg)
		switch {
		case strings.HasPrefix(arg, "--exit="):
			code, _ = strconv.Atoi(strings.TrimPrefix(arg, "--exit="))
		case strings.HasPrefix(arg, "--alloc-mib="):
			mib, _ := strconv.Atoi(strings.TrimPrefix(arg, "--alloc-mib="))
			blocks := make([][]byte, 0, mib)
			for i := 0; i < mib; i++ {
				b := make([]byte, 1<<20)
				b[len(b)-1] = byte(i)
				blocks = append(blocks, b)
			}
			fmt.Printf("allocated %d MiB\n", len(blocks))
		case strings.HasPrefix(arg, "--serve="):
			serve, _ = strconv.Atoi(strings.TrimPrefix(arg, "--serve="))
		case arg == "--panic":
			panic("asked to panic")
		}
	}
	for _, name := range []string{"GREETING", "FD_COUNT", "FD_NAMES"} {
		v, ok := os.LookupEnv(name)
		if !ok {
			v = "(unset)"
		}
		fmt.Printf("%s=%s\n", name, v)
	}

	start := time.Now()
	time.Sleep(20 * time.Millisecond) // a timer: poll_oneoff on the monotonic clock
	slept := time.Since(start)
	clocksOK := time.Now().Unix() > 1_600_000_000 && slept >= 20*time.Millisecond && slept < time.Minute
	fmt.Printf("clocks: %s\n", map[bool]string{true: "ok", false: "wrong"}[clocksOK])

	// Goroutines and channels on Go's single-threaded wasip1 scheduler.
	var wg sync.WaitGroup
	sums := make(chan int, 4)
	for w := 1; w <= 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			s := 0
			for i := 1; i <= 1000*w; i++ {
				s += i
			}
			sums <- s
		}(w)
	}
	wg.Wait()
	close(sums)
	total := 0
	for s := range sums {
		total += s
	}
	fmt.Printf("goroutines: %d\n", total)

	var nonce [32]byte
	if _, err := rand.Read(nonce[:]); err != nil || nonce == [32]byte{} {
		fmt.Println("random: failed", err)
	} else {
		fmt.Println("random: ok")
	}

	listAssets()
	if serve > 0 {
		serveConnections(serve)
	}
	fmt.Fprintf(os.Stderr, "go-hello: exiting with %d\n", code)
	os.Exit(code)
}

func listAssets() {
	entries, err := os.ReadDir("/")
	if err != nil {
		fmt.Printf("assets: %v\n", err)
		return
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() {
			n += "/"
		}
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Printf("assets: %s\n", strings.Join(names, " "))
	if text, err := os.ReadFile("/message.txt"); err != nil {
		fmt.Printf("message.txt: %v\n", err)
	} else {
		fmt.Printf("message.txt: %s", text)
	}
	if f, err := os.Open("/data/words.txt"); err == nil {
		if _, err := f.Seek(6, io.SeekStart); err == nil {
			line, _ := bufio.NewReader(f).ReadString('\n')
			fmt.Printf("data/words.txt from byte 6: %s\n", strings.TrimSuffix(line, "\n"))
		}
		f.Close()
	}
	if st, err := os.Stat("/data/words.txt"); err == nil {
		words, _ := os.ReadFile("/data/words.txt")
		fmt.Printf("data/words.txt: %d bytes, %d words, sha256 %x\n", st.Size(),
			len(strings.Fields(string(words))), sha256.Sum256(words))
	}
	if err := os.WriteFile("/new.txt", []byte("x"), 0o644); err != nil {
		fmt.Printf("write attempt: %v\n", err)
	} else {
		fmt.Println("write attempt: succeeded (unexpected)")
	}
	if _, err := os.ReadFile("/../../etc/passwd"); err != nil {
		fmt.Println("escape attempt: refused")
	} else {
		fmt.Println("escape attempt: succeeded (unexpected)")
	}
}

// fdNamed is the fd of the Enarx.toml file entry called name: FD_NAMES lists them in fd order.
func fdNamed(name string) int {
	for fd, n := range strings.Split(os.Getenv("FD_NAMES"), ":") {
		if n == name {
			return fd
		}
	}
	return -1
}

func serveConnections(n int) {
	fd := fdNamed("ingest")
	if fd < 0 {
		fmt.Println("serve: no file named ingest in FD_NAMES")
		return
	}
	ln, err := net.FileListener(os.NewFile(uintptr(fd), "ingest"))
	if err != nil {
		fmt.Printf("serve: %v\n", err)
		return
	}
	defer ln.Close()
	fmt.Println("serve: listening")
	// Every connection gets its own goroutine while Accept goes on: a client that stays silent
	// must not hold up the others (the netpoller multiplexes them through poll_oneoff).
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		c, err := ln.Accept()
		if err != nil {
			fmt.Printf("serve: accept: %v\n", err)
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			line, err := bufio.NewReader(c).ReadString('\n')
			if err != nil && line == "" {
				return
			}
			fmt.Fprintf(c, "go-hello heard: %s", line)
		}()
	}
	wg.Wait()
	fmt.Printf("serve: answered %d\n", n)
}
