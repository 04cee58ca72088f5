// gotest: a Go program for `visa run`: goroutines on several OS threads
// (GOMAXPROCS 4), channels, a WaitGroup, a mutex, timers and a loopback
// TCP echo through the runtime's network poller (epoll). Built with
// Debian's golang-go by tests/linux_threads.rs (GOARCH=amd64, static); every
// line it prints is the same natively and under visa.
package main

import (
	"fmt"
	"net"
	"runtime"
	"sync"
	"time"
)

func work(n int) int {
	s := 0
	for k := 0; k < 200000*(n+1); k++ {
		s += k % (n + 3)
	}
	return s
}

func main() {
	runtime.GOMAXPROCS(4)
	var wg sync.WaitGroup
	var mu sync.Mutex
	shared := 0
	results := make(chan int, 16)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func(n int) {
			defer wg.Done()
			r := work(n)
			mu.Lock()
			shared += n
			mu.Unlock()
			results <- r
		}(i)
	}
	wg.Wait()
	close(results)
	total := 0
	for r := range results {
		total += r
	}
	fmt.Println("goroutines:", total, "shared:", shared)

	ping, pong := make(chan int), make(chan int)
	go func() {
		for v := range ping {
			pong <- v * 2
		}
		close(pong)
	}()
	sum := 0
	for i := 0; i < 1000; i++ {
		ping <- i
		sum += <-pong
	}
	close(ping)
	fmt.Println("ping-pong:", sum)

	timer := time.NewTimer(10 * time.Millisecond)
	ticker := time.NewTicker(2 * time.Millisecond)
	ticks := 0
	for ticks < 3 {
		<-ticker.C
		ticks++
	}
	ticker.Stop()
	<-timer.C
	fmt.Println("timers: ticks", ticks, "timer fired")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println("listen:", err)
		return
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				buf := make([]byte, 256)
				n, _ := c.Read(buf)
				c.Write(append([]byte("echo: "), buf[:n]...))
				c.Close()
			}(c)
		}
	}()
	for i := 0; i < 3; i++ {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			fmt.Println("dial:", err)
			return
		}
		fmt.Fprintf(c, "message %d", i)
		buf := make([]byte, 256)
		n, _ := c.Read(buf)
		fmt.Println(string(buf[:n]))
		c.Close()
	}
	ln.Close()
}
