/* Sockets: a loopback TCP server and client in one process (non-blocking,
 * driven by epoll), AF_UNIX socket pairs passing a descriptor and
 * credentials, UDP datagrams (one at a time and several per call), socket
 * names and options, netlink, and hostile pointers and lengths. */
#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netdb.h>
#include <fcntl.h>
#include <stddef.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "vtnet.h"

static struct sockaddr_in loopback(uint16_t port) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

static int port_of(int fd, int peer) {
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    int r = peer ? getpeername(fd, (struct sockaddr *)&a, &len) : getsockname(fd, (struct sockaddr *)&a, &len);
    if (r < 0 || len != sizeof a || a.sin_family != AF_INET || a.sin_addr.s_addr != htonl(INADDR_LOOPBACK)) return -1;
    return ntohs(a.sin_port);
}

static int intopt(int fd, int level, int name) {
    int v = -1;
    socklen_t len = sizeof v;
    if (getsockopt(fd, level, name, &v, &len) < 0) return -errno;
    return len == sizeof v ? v : -1000;
}

/* Waits for one event on `fd`: its event bits. */
static unsigned wait_for(int ep, int fd) {
    struct epoll_event ev[4];
    for (;;) {
        int n = epoll_wait(ep, ev, 4, -1);
        for (int i = 0; i < n; i++)
            if (ev[i].data.fd == fd) return ev[i].events;
        if (n < 0) return 0;
    }
}

int net_tcp(void) {
    int lst = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    SHOW(lst >= 0);
    SHOW(fcntl(lst, F_GETFL) & O_NONBLOCK);
    SHOW(fcntl(lst, F_GETFD));
    int one = 1;
    SHOW(setsockopt(lst, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one));
    SHOW(intopt(lst, SOL_SOCKET, SO_REUSEADDR));
    struct sockaddr_in a = loopback(0);
    SHOW(bind(lst, (struct sockaddr *)&a, sizeof a));
    SHOW(listen(lst, 4));
    SHOW(intopt(lst, SOL_SOCKET, SO_ACCEPTCONN));
    SHOW(intopt(lst, SOL_SOCKET, SO_TYPE));
    SHOW(intopt(lst, SOL_SOCKET, SO_DOMAIN));
    SHOW(intopt(lst, SOL_SOCKET, SO_PROTOCOL) == IPPROTO_TCP);
    int port = port_of(lst, 0);
    printf("listening port nonzero: %d\n", port > 0);

    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = lst};
    SHOW(epoll_ctl(ep, EPOLL_CTL_ADD, lst, &ev));
    int cli = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    a = loopback(port);
    int r = connect(cli, (struct sockaddr *)&a, sizeof a);
    printf("connect: 0 or EINPROGRESS: %d\n", r == 0 || errno == EINPROGRESS);
    ev = (struct epoll_event){.events = EPOLLOUT, .data.fd = cli};
    SHOW(epoll_ctl(ep, EPOLL_CTL_ADD, cli, &ev));
    SHOW(wait_for(ep, lst) & EPOLLIN);
    struct sockaddr_in peer;
    memset(&peer, 0x55, sizeof peer);
    socklen_t plen = 4;
    int srv = accept4(lst, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK);
    SHOW(srv >= 0);
    printf("accept: length %u, family %d, rest untouched %d\n", plen, peer.sin_family, peer.sin_addr.s_addr == 0x55555555);
    SHOW(accept(lst, NULL, NULL));
    SHOW(wait_for(ep, cli) & EPOLLOUT);
    SHOW(intopt(cli, SOL_SOCKET, SO_ERROR));
    printf("peer of server is client: %d\n", port_of(srv, 1) == port_of(cli, 0));
    printf("peer of client is listener port: %d\n", port_of(cli, 1) == port);
    SHOW(setsockopt(cli, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one));
    SHOW(intopt(cli, IPPROTO_TCP, TCP_NODELAY));
    int size = 65536;
    SHOW(setsockopt(srv, SOL_SOCKET, SO_RCVBUF, &size, sizeof size));
    SHOW(intopt(srv, SOL_SOCKET, SO_RCVBUF) >= size);
    struct timeval tv = {1, 500000}, got;
    socklen_t tlen = sizeof got;
    SHOW(setsockopt(srv, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
    SHOW(getsockopt(srv, SOL_SOCKET, SO_RCVTIMEO, &got, &tlen));
    printf("SO_RCVTIMEO: %ld.%06ld, length %u\n", (long)got.tv_sec, (long)got.tv_usec, tlen);
    struct linger lg = {1, 7}, lgot;
    socklen_t llen = sizeof lgot;
    SHOW(setsockopt(cli, SOL_SOCKET, SO_LINGER, &lg, sizeof lg));
    SHOW(getsockopt(cli, SOL_SOCKET, SO_LINGER, &lgot, &llen));
    printf("SO_LINGER: %d %d, length %u\n", lgot.l_onoff, lgot.l_linger, llen);

    ev = (struct epoll_event){.events = EPOLLIN | EPOLLRDHUP, .data.fd = srv};
    SHOW(epoll_ctl(ep, EPOLL_CTL_ADD, srv, &ev));
    SHOW(send(cli, "ping", 4, 0));
    SHOW(wait_for(ep, srv) & EPOLLIN);
    char buf[16] = {0};
    SHOW(recv(srv, buf, sizeof buf, 0));
    printf("server got %s\n", buf);
    SHOW(recv(srv, buf, sizeof buf, 0));
    SHOW(write(srv, "pong", 4));
    ev = (struct epoll_event){.events = EPOLLIN, .data.fd = cli};
    SHOW(epoll_ctl(ep, EPOLL_CTL_MOD, cli, &ev));
    SHOW(wait_for(ep, cli) & EPOLLIN);
    memset(buf, 0, sizeof buf);
    SHOW(read(cli, buf, sizeof buf));
    printf("client got %s\n", buf);
    SHOW(shutdown(cli, SHUT_WR));
    SHOW(wait_for(ep, srv) & (EPOLLIN | EPOLLRDHUP));
    SHOW(recv(srv, buf, sizeof buf, 0));
    SHOW(shutdown(srv, 7));
    close(srv);
    close(cli);
    close(lst);

    int six = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    if (six >= 0 && bind(six, (struct sockaddr *)&a6, sizeof a6) == 0) {
        struct sockaddr_in6 b6;
        socklen_t l6 = sizeof b6;
        SHOW(getsockname(six, (struct sockaddr *)&b6, &l6));
        printf("ipv6: length %u, family %d, loopback %d, port nonzero %d, scope %u\n", l6, b6.sin6_family,
               IN6_IS_ADDR_LOOPBACK(&b6.sin6_addr), b6.sin6_port != 0, b6.sin6_scope_id);
    } else {
        printf("ipv6: not available here\n");
    }
    close(six);
    return 0;
}

/* Sends `byte` on `fd` with one control message. */
static long send_with(int fd, int type, const void *data, size_t len) {
    char byte = 'x';
    struct iovec iov = {&byte, 1};
    union {
        struct cmsghdr h;
        char b[CMSG_SPACE(64)];
    } ctl;
    memset(&ctl, 0, sizeof ctl);
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b, .msg_controllen = CMSG_SPACE(len)};
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = type;
    c->cmsg_len = CMSG_LEN(len);
    memcpy(CMSG_DATA(c), data, len);
    return sendmsg(fd, &m, 0);
}

int net_unix(void) {
    int sv[2];
    SHOW(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
    SHOW(fcntl(sv[0], F_GETFD));
    int pipefd[2];
    SHOW(pipe(pipefd));
    SHOW(send_with(sv[0], SCM_RIGHTS, &pipefd[1], sizeof(int)));
    close(pipefd[1]);

    char byte = 0;
    struct iovec iov = {&byte, 1};
    union {
        struct cmsghdr h;
        char b[CMSG_SPACE(64)];
    } ctl;
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b, .msg_controllen = sizeof ctl.b};
    SHOW(recvmsg(sv[1], &m, MSG_CMSG_CLOEXEC));
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    printf("byte %c, flags %d, control length %d\n", byte, m.msg_flags, (int)m.msg_controllen);
    printf("cmsg: level %d, type %d, length %d\n", c->cmsg_level, c->cmsg_type, (int)c->cmsg_len);
    int got;
    memcpy(&got, CMSG_DATA(c), sizeof got);
    SHOW(fcntl(got, F_GETFD));
    SHOW(write(got, "through the passed descriptor", 29));
    close(got);
    char buf[64] = {0};
    SHOW(read(pipefd[0], buf, sizeof buf));
    printf("pipe says: %s\n", buf);
    SHOW(read(pipefd[0], buf, sizeof buf));

    /* Too little room for the descriptor: MSG_CTRUNC. */
    SHOW(send_with(sv[0], SCM_RIGHTS, &pipefd[0], sizeof(int)));
    m.msg_controllen = sizeof(struct cmsghdr);
    SHOW(recvmsg(sv[1], &m, 0));
    printf("truncated: %d, control length %d\n", (m.msg_flags & MSG_CTRUNC) != 0, (int)m.msg_controllen);

    /* Credentials. */
    int one = 1;
    SHOW(setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &one, sizeof one));
    struct ucred me = {getpid(), getuid(), getgid()};
    SHOW(send_with(sv[0], SCM_CREDENTIALS, &me, sizeof me));
    m.msg_controllen = sizeof ctl.b;
    SHOW(recvmsg(sv[1], &m, 0));
    c = CMSG_FIRSTHDR(&m);
    struct ucred them;
    memcpy(&them, CMSG_DATA(c), sizeof them);
    printf("credentials: type %d, pid mine %d, uid mine %d, gid mine %d\n", c->cmsg_type, them.pid == getpid(),
           them.uid == getuid(), them.gid == getgid());
    struct ucred peer;
    socklen_t plen = sizeof peer;
    SHOW(getsockopt(sv[0], SOL_SOCKET, SO_PEERCRED, &peer, &plen));
    printf("SO_PEERCRED: pid mine %d, length %u\n", peer.pid == getpid(), plen);
    close(sv[0]);
    close(sv[1]);

    /* Datagrams between named sockets in the abstract namespace. */
    struct sockaddr_un a = {.sun_family = AF_UNIX}, b = {.sun_family = AF_UNIX}, from;
    int n = snprintf(a.sun_path + 1, sizeof a.sun_path - 1, "vtnet-a-%d", getpid());
    snprintf(b.sun_path + 1, sizeof b.sun_path - 1, "vtnet-b-%d", getpid());
    socklen_t alen = offsetof(struct sockaddr_un, sun_path) + 1 + n;
    int x = socket(AF_UNIX, SOCK_DGRAM, 0), y = socket(AF_UNIX, SOCK_DGRAM, 0);
    SHOW(bind(x, (struct sockaddr *)&a, alen));
    SHOW(bind(y, (struct sockaddr *)&b, alen));
    SHOW(sendto(x, "datagram", 8, 0, (struct sockaddr *)&b, alen));
    socklen_t flen = sizeof from;
    memset(buf, 0, sizeof buf);
    SHOW(recvfrom(y, buf, sizeof buf, 0, (struct sockaddr *)&from, &flen));
    printf("from a: %d, length right %d, data %s\n", memcmp(&from, &a, alen) == 0, flen == alen, buf);
    flen = sizeof from;
    SHOW(getsockname(y, (struct sockaddr *)&from, &flen));
    printf("own name is b: %d\n", flen == alen && memcmp(&from, &b, alen) == 0);
    close(x);
    close(y);
    return 0;
}

int net_udp(void) {
    int x = socket(AF_INET, SOCK_DGRAM, 0), y = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = loopback(0);
    SHOW(bind(x, (struct sockaddr *)&a, sizeof a));
    SHOW(bind(y, (struct sockaddr *)&a, sizeof a));
    struct sockaddr_in to = loopback(port_of(y, 0)), from;
    SHOW(sendto(x, "hello udp", 9, 0, (struct sockaddr *)&to, sizeof to));
    char buf[64] = {0};
    SHOW(recv(y, buf, 4, MSG_PEEK | MSG_TRUNC));
    socklen_t flen = sizeof from;
    SHOW(recvfrom(y, buf, sizeof buf, 0, (struct sockaddr *)&from, &flen));
    printf("got \"%s\" from x: %d\n", buf, ntohs(from.sin_port) == port_of(x, 0) && flen == sizeof from);
    SHOW(connect(x, (struct sockaddr *)&to, sizeof to));
    printf("connected peer is y: %d\n", port_of(x, 1) == port_of(y, 0));

    /* Three datagrams in one call each way. */
    char out[3][8] = {"one", "two!", "three"};
    struct iovec oiov[3];
    struct mmsghdr om[3];
    memset(om, 0, sizeof om);
    for (int i = 0; i < 3; i++) {
        oiov[i] = (struct iovec){out[i], strlen(out[i])};
        om[i].msg_hdr.msg_iov = &oiov[i];
        om[i].msg_hdr.msg_iovlen = 1;
    }
    SHOW(sendmmsg(x, om, 3, 0));
    printf("sent lengths %u %u %u\n", om[0].msg_len, om[1].msg_len, om[2].msg_len);
    char in[4][8];
    struct iovec iiov[4];
    struct mmsghdr im[4];
    struct sockaddr_in names[4];
    memset(im, 0, sizeof im);
    memset(in, 0, sizeof in);
    for (int i = 0; i < 4; i++) {
        iiov[i] = (struct iovec){in[i], sizeof in[i]};
        im[i].msg_hdr.msg_iov = &iiov[i];
        im[i].msg_hdr.msg_iovlen = 1;
        im[i].msg_hdr.msg_name = &names[i];
        im[i].msg_hdr.msg_namelen = sizeof names[i];
    }
    struct timespec far = {INT64_MAX, 0}, before = {-1, 0};
    SHOW(recvmmsg(y, im, 4, MSG_WAITFORONE, &far));
    for (int i = 0; i < 3; i++)
        printf("message %d: %u bytes \"%s\", from x %d\n", i, im[i].msg_len, in[i],
               ntohs(names[i].sin_port) == port_of(x, 0) && im[i].msg_hdr.msg_namelen == sizeof names[i]);
    SHOW(recv(y, buf, sizeof buf, MSG_DONTWAIT));
    SHOW(recvmmsg(y, im, 4, MSG_DONTWAIT, &before));

    /* Scattered send, gathered receive. */
    struct iovec parts[2] = {{"scat", 4}, {"tered", 5}};
    struct msghdr m = {.msg_iov = parts, .msg_iovlen = 2};
    SHOW(sendmsg(x, &m, 0));
    char p1[3] = {0}, p2[16] = {0};
    struct iovec into[2] = {{p1, 2}, {p2, sizeof p2 - 1}};
    m = (struct msghdr){.msg_iov = into, .msg_iovlen = 2};
    SHOW(recvmsg(y, &m, 0));
    printf("gathered \"%s\" \"%s\", flags %d\n", p1, p2, m.msg_flags);
    close(x);
    close(y);
    return 0;
}

int net_fault(void) {
    void *bad = (void *)1, *kernel = (void *)0xffff800000000000;
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = loopback(0);
    socklen_t len = sizeof a;
    SHOW(bind(fd, bad, sizeof a));
    SHOW(bind(fd, (struct sockaddr *)&a, 129));
    SHOW(bind(fd, (struct sockaddr *)&a, -1));
    SHOW(bind(fd, (struct sockaddr *)&a, sizeof a));
    SHOW(getsockname(fd, bad, &len));
    SHOW(getsockname(fd, (struct sockaddr *)&a, bad));
    len = -1;
    SHOW(getsockname(fd, (struct sockaddr *)&a, &len));
    len = 0;
    SHOW(getsockname(fd, bad, &len));
    printf("length with no room: %u\n", len);
    struct sockaddr_in to = loopback(port_of(fd, 0));
    SHOW(sendto(fd, bad, 4, 0, (struct sockaddr *)&to, sizeof to));
    SHOW(sendto(fd, "x", 1, 0, bad, sizeof to));
    SHOW(sendto(fd, kernel, 4, 0, (struct sockaddr *)&to, sizeof to));
    SHOW(sendto(fd, "ok", 2, 0, (struct sockaddr *)&to, sizeof to));
    SHOW(recvfrom(fd, bad, 4, 0, NULL, NULL));
    SHOW(sendmsg(fd, bad, 0));
    SHOW(recvmsg(fd, kernel, 0));
    struct iovec iov = {bad, 4};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_name = &to, .msg_namelen = sizeof to};
    SHOW(sendmsg(fd, &m, 0));
    m.msg_iovlen = 2000;
    SHOW(sendmsg(fd, &m, 0));
    m.msg_iov = bad;
    m.msg_iovlen = 1;
    SHOW(sendmsg(fd, &m, 0));
    int v;
    socklen_t vl = sizeof v;
    SHOW(getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, bad));
    SHOW(getsockopt(fd, SOL_SOCKET, SO_TYPE, bad, &vl));
    SHOW(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, bad, sizeof v));
    SHOW(syscall(SYS_socketpair, AF_UNIX, SOCK_STREAM, 0, bad));
    SHOW(socket(AF_INET, SOCK_STREAM | 0x100, 0));
    SHOW(syscall(SYS_accept4, fd, NULL, NULL, 0x100));
    close(fd);
    return 0;
}

/* Netlink, as the C library's getaddrinfo uses it (AI_ADDRCONFIG asks the
 * kernel for the host's addresses): a route socket dumping the addresses,
 * of which the loopback one is always there. */
int net_netlink(void) {
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    SHOW(fd >= 0);
    struct sockaddr_nl me = {.nl_family = AF_NETLINK};
    SHOW(bind(fd, (struct sockaddr *)&me, sizeof me));
    socklen_t len = sizeof me;
    SHOW(getsockname(fd, (struct sockaddr *)&me, &len));
    printf("netlink name: length %u, family %d, port id nonzero %d\n", len, me.nl_family, me.nl_pid != 0);
    struct {
        struct nlmsghdr h;
        struct ifaddrmsg a;
    } req = {{.nlmsg_len = sizeof req, .nlmsg_type = RTM_GETADDR, .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
              .nlmsg_seq = 7},
             {.ifa_family = AF_INET}};
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    SHOW(sendto(fd, &req, sizeof req, 0, (struct sockaddr *)&kernel, sizeof kernel));
    int loopback_seen = 0, done = 0, seq_right = 1;
    static char buf[1 << 16];
    while (!done) {
        struct sockaddr_nl from;
        socklen_t flen = sizeof from;
        long n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &flen);
        if (n <= 0 || from.nl_pid != 0) break;
        for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
            seq_right &= h->nlmsg_seq == 7;
            if (h->nlmsg_type == NLMSG_DONE) done = 1;
            if (h->nlmsg_type != RTM_NEWADDR) continue;
            struct ifaddrmsg *a = NLMSG_DATA(h);
            int alen = IFA_PAYLOAD(h);
            for (struct rtattr *r = IFA_RTA(a); RTA_OK(r, alen); r = RTA_NEXT(r, alen))
                if (r->rta_type == IFA_LOCAL && *(uint32_t *)RTA_DATA(r) == htonl(INADDR_LOOPBACK)) loopback_seen = 1;
        }
    }
    printf("dump: done %d, sequence right %d, loopback address seen %d\n", done, seq_right, loopback_seen);
    close(fd);

    struct addrinfo hints = {.ai_flags = AI_ADDRCONFIG | AI_NUMERICHOST | AI_NUMERICSERV, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    int r = getaddrinfo("127.0.0.1", "80", &hints, &res);
    printf("getaddrinfo: %d, family %d, port %d\n", r, res ? res->ai_family : -1,
           res ? ntohs(((struct sockaddr_in *)res->ai_addr)->sin_port) : -1);
    if (res) freeaddrinfo(res);
    return 0;
}
