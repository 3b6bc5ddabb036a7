import koffi from 'koffi';

/** The few libc calls Node does not offer: namespaces and netlink sockets. */
const libc = koffi.load('libc.so.6');

export const AF_NETLINK = 16;
export const SOCK_RAW = 3;
export const SOCK_CLOEXEC = 0x80000;
export const NETLINK_ROUTE = 0;
export const SOL_NETLINK = 270;
export const NETLINK_CAP_ACK = 10;
export const NETLINK_EXT_ACK = 11;
export const CLONE_NEWNET = 0x40000000;

export const socket = libc.func('int socket(int domain, int type, int protocol)') as (domain: number, type: number, protocol: number) => number;
export const setsockopt = libc.func('int setsockopt(int fd, int level, int name, void *value, uint32_t len)') as (fd: number, level: number, name: number, value: Buffer, len: number) => number;
export const send = libc.func('long send(int fd, void *buf, size_t len, int flags)') as (fd: number, buf: Buffer, len: number, flags: number) => number;
export const recv = libc.func('long recv(int fd, _Out_ void *buf, size_t len, int flags)') as (fd: number, buf: Buffer, len: number, flags: number) => number;
export const close = libc.func('int close(int fd)') as (fd: number) => number;
/** Changes the calling thread's namespace only. */
export const setns = libc.func('int setns(int fd, int nstype)') as (fd: number, nstype: number) => number;
const strerrorC = libc.func('const char *strerror(int errnum)') as (errnum: number) => string;

export const errno = (): number => koffi.errno();
export const strerror = (n: number): string => strerrorC(n);
