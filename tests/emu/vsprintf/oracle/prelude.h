/* Just enough of the kernel for lib/vsprintf.c to build as a user-space program (x86_64). */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdarg.h>
#include <string.h>

/* the kernel's names, away from glibc's */
#define vsnprintf k_vsnprintf
#define vscnprintf k_vscnprintf
#define snprintf k_snprintf
#define scnprintf k_scnprintf
#define vsprintf k_vsprintf
#define sprintf k_sprintf
#define clock k_clock
#define abs(x) __builtin_abs(x)

typedef uint8_t u8; typedef uint16_t u16; typedef uint32_t u32; typedef uint64_t u64;
typedef int8_t s8; typedef int16_t s16; typedef int32_t s32; typedef int64_t s64;
typedef long ssize_t; typedef u64 phys_addr_t; typedef u64 dma_addr_t;
typedef u64 resource_size_t; typedef u64 netdev_features_t; typedef s64 time64_t;
typedef unsigned int gfp_t; typedef u16 __be16; typedef u32 __be32; typedef u16 __le16;

#define CONFIG_64BIT 1
#define CONFIG_KALLSYMS 1
#define CONFIG_BLOCK 1
#define CONFIG_HAVE_CLK 1
#define CONFIG_COMMON_CLK 1
#define CONFIG_MODULES 1
#define BITS_PER_LONG 64
#define BITS_PER_LONG_LONG 64
#define __ARG_PLACEHOLDER_1 0,
#define __take_second_arg(__ignored, val, ...) val
#define __is_defined(x) ___is_defined(x)
#define ___is_defined(val) ____is_defined(__ARG_PLACEHOLDER_##val)
#define ____is_defined(arg1_or_junk) __take_second_arg(arg1_or_junk 1, 0)
#define IS_ENABLED(option) __is_defined(option)

#define noinline __attribute__((noinline))
#define noinline_for_stack noinline
#define __init
#define __ro_after_init
#define __read_mostly
#define __force
#define __packed __attribute__((packed))
#define __aligned(x) __attribute__((aligned(x)))
#define fallthrough __attribute__((fallthrough))
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define READ_ONCE(x) (x)
#define WRITE_ONCE(x, v) ((x) = (v))
#define smp_rmb() do { } while (0)
#define smp_wmb() do { } while (0)
#define rcu_read_lock() do { } while (0)
#define rcu_read_unlock() do { } while (0)
#define EXPORT_SYMBOL(x)
#define EXPORT_SYMBOL_GPL(x)
#define early_param(s, f)
#define subsys_initcall(fn) void harness_init_hashval(void) { fn(); }
#define BUILD_BUG_ON(x)
#define static_assert(e, ...) _Static_assert(e, #e)
#define BUILD_BUG_ON_ZERO(x) 0
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define min(a, b) ((a) < (b) ? (a) : (b))
#define max(a, b) ((a) > (b) ? (a) : (b))
#define min_t(t, a, b) ((t)(a) < (t)(b) ? (t)(a) : (t)(b))
#define max_t(t, a, b) ((t)(a) > (t)(b) ? (t)(a) : (t)(b))
#define clamp(v, lo, hi) min(max(v, lo), hi)
#define ALIGN(x, a) (((x) + (a) - 1) & ~((a) - 1))
#define DIV_ROUND_UP(n, d) (((n) + (d) - 1) / (d))
#define BIT(n) (1UL << (n))
#define INT_MAX ((int)(~0U >> 1))
#define PAGE_SIZE 4096UL
#define HZ 250
#define EFAULT 14
#define EBUSY 16
#define EINVAL 22
#define MAX_ERRNO 4095
#define IS_ERR_VALUE(x) unlikely((unsigned long)(void *)(x) >= (unsigned long)-MAX_ERRNO)
static inline long PTR_ERR(const void *p) { return (long)p; }
static inline bool IS_ERR(const void *p) { return IS_ERR_VALUE((unsigned long)p); }
static inline bool IS_ERR_OR_NULL(const void *p) { return !p || IS_ERR_VALUE((unsigned long)p); }
#define cpu_to_le16(x) ((u16)(x))
#define ntohs(x) __builtin_bswap16(x)
#define ntohl(x) __builtin_bswap32(x)
#define htonl(x) __builtin_bswap32(x)
#define cpu_to_be32(x) __builtin_bswap32(x)
#define get_unaligned(p) (*(p))
#define upper_32_bits(n) ((u32)((n) >> 32))
#define lower_32_bits(n) ((u32)(n))
#define do_div(n, base) ({ u32 __rem = (n) % (base); (n) /= (base); __rem; })
#define KSYM_NAME_LEN 512
#define KSYM_SYMBOL_LEN (sizeof("%s+%#lx/%#lx [%s %s]") + (KSYM_NAME_LEN - 1) + \
             2*(BITS_PER_LONG*3/10) + (56 - 1) + 1 + 40)
#define UUID_STRING_LEN 36
#define pr_info(...) do { } while (0)
#define pr_warn(...) do { } while (0)

extern int harness_warnings;
#define WARN_ONCE(cond, ...) ({ int __c = !!(cond); if (__c) harness_warnings++; __c; })
#define WARN_ON_ONCE(cond) WARN_ONCE(cond, "")

/* ctype (include/linux/ctype.h, lib/ctype.c) */
#define _U 0x01
#define _L 0x02
#define _D 0x04
#define _C 0x08
#define _P 0x10
#define _S 0x20
#define _X 0x40
#define _SP 0x80
static const unsigned char _ctype[] = {
_C,_C,_C,_C,_C,_C,_C,_C, _C,_C|_S,_C|_S,_C|_S,_C|_S,_C|_S,_C,_C,
_C,_C,_C,_C,_C,_C,_C,_C, _C,_C,_C,_C,_C,_C,_C,_C,
_S|_SP,_P,_P,_P,_P,_P,_P,_P, _P,_P,_P,_P,_P,_P,_P,_P,
_D,_D,_D,_D,_D,_D,_D,_D, _D,_D,_P,_P,_P,_P,_P,_P,
_P,_U|_X,_U|_X,_U|_X,_U|_X,_U|_X,_U|_X,_U, _U,_U,_U,_U,_U,_U,_U,_U,
_U,_U,_U,_U,_U,_U,_U,_U, _U,_U,_U,_P,_P,_P,_P,_P,
_P,_L|_X,_L|_X,_L|_X,_L|_X,_L|_X,_L|_X,_L, _L,_L,_L,_L,_L,_L,_L,_L,
_L,_L,_L,_L,_L,_L,_L,_L, _L,_L,_L,_P,_P,_P,_P,_C,
0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
_S|_SP,_P,_P,_P,_P,_P,_P,_P,_P,_P,_P,_P,_P,_P,_P,_P,
_P,_P,_P,_P,_P,_P,_P,_P,_P,_P,_P,_P,_P,_P,_P,_P,
_U,_U,_U,_U,_U,_U,_U,_U,_U,_U,_U,_U,_U,_U,_U,_U,
_U,_U,_U,_U,_U,_U,_U,_P,_U,_U,_U,_U,_U,_U,_U,_L,
_L,_L,_L,_L,_L,_L,_L,_L,_L,_L,_L,_L,_L,_L,_L,_L,
_L,_L,_L,_L,_L,_L,_L,_P,_L,_L,_L,_L,_L,_L,_L,_L};
#define __ismask(x) (_ctype[(int)(unsigned char)(x)])
#define isalnum(c) ((__ismask(c)&(_U|_L|_D)) != 0)
#define isalpha(c) ((__ismask(c)&(_U|_L)) != 0)
#define isprint(c) ((__ismask(c)&(_P|_U|_L|_D|_SP)) != 0)
#define isdigit(c) __builtin_isdigit(c)
#define isascii(c) (((unsigned char)(c))<=0x7f)
static inline char _tolower(const char c) { return c | 0x20; }

int k_vsnprintf(char *buf, size_t size, const char *fmt, va_list args);
/* hex */
static const char hex_asc[] = "0123456789abcdef";
static const char hex_asc_upper[] = "0123456789ABCDEF";
#define hex_asc_lo(x) hex_asc[((x) & 0x0f)]
#define hex_asc_hi(x) hex_asc[((x) & 0xf0) >> 4]
static inline char *hex_byte_pack(char *buf, u8 byte)
{ *buf++ = hex_asc_hi(byte); *buf++ = hex_asc_lo(byte); return buf; }
static inline char *hex_byte_pack_upper(char *buf, u8 byte)
{ *buf++ = hex_asc_upper[(byte & 0xf0) >> 4]; *buf++ = hex_asc_upper[byte & 0x0f]; return buf; }

/* kstrtox */
#define KSTRTOX_OVERFLOW (1U << 31)
const char *_parse_integer_fixup_radix(const char *s, unsigned int *base);
unsigned int _parse_integer_limit(const char *s, unsigned int base, unsigned long long *res,
                  size_t max_chars);

/* siphash (include/linux/siphash.h, lib/siphash.c) */
typedef struct { u64 key[2]; } siphash_key_t;
static inline u64 rol64(u64 w, unsigned int s) { return (w << s) | (w >> (64 - s)); }
#define SIPHASH_PERMUTATION(a, b, c, d) ( \
    (a) += (b), (b) = rol64((b), 13), (b) ^= (a), (a) = rol64((a), 32), \
    (c) += (d), (d) = rol64((d), 16), (d) ^= (c), \
    (a) += (d), (d) = rol64((d), 21), (d) ^= (a), \
    (c) += (b), (b) = rol64((b), 17), (b) ^= (c), (c) = rol64((c), 32))
#define SIPROUND SIPHASH_PERMUTATION(v0, v1, v2, v3)
#define PREAMBLE(len) \
    u64 v0 = 0x736f6d6570736575ULL; u64 v1 = 0x646f72616e646f6dULL; \
    u64 v2 = 0x6c7967656e657261ULL; u64 v3 = 0x7465646279746573ULL; \
    u64 b = ((u64)(len)) << 56; \
    v3 ^= key->key[1]; v2 ^= key->key[0]; v1 ^= key->key[1]; v0 ^= key->key[0];
#define POSTAMBLE \
    v3 ^= b; SIPROUND; SIPROUND; v0 ^= b; v2 ^= 0xff; \
    SIPROUND; SIPROUND; SIPROUND; SIPROUND; return (v0 ^ v1) ^ (v2 ^ v3);
static u64 siphash_1u64(const u64 first, const siphash_key_t *key)
{
    PREAMBLE(8)
    v3 ^= first;
    SIPROUND;
    SIPROUND;
    v0 ^= first;
    POSTAMBLE
}
static inline unsigned long hash_long(unsigned long v, int bits) { return v >> (64 - bits); }

/* random key and deferred work */
struct work_struct { int x; };
struct delayed_work { struct work_struct work; };
#define DECLARE_DELAYED_WORK(n, f) struct delayed_work n
extern u8 harness_key[16];
static inline bool rng_is_initialized(void) { return true; }
static inline void get_random_bytes(void *buf, size_t n) { memcpy(buf, harness_key, n); }
static inline bool queue_delayed_work(void *wq, struct delayed_work *w, unsigned long d)
{ return true; }
#define system_unbound_wq NULL

/* %pK */
struct cred { int euid, uid, egid, gid; };
extern struct cred harness_cred;
extern int harness_cap_syslog;
#define current NULL
#define CAP_SYSLOG 34
#define current_cred() (&harness_cred)
#define has_capability_noaudit(t, cap) harness_cap_syslog
#define uid_eq(a, b) ((a) == (b))
#define gid_eq(a, b) ((a) == (b))
#define in_irq() 0
#define in_serving_softirq() 0
#define in_nmi() 0

/* kallsyms: __sprint_symbol from kernel/kallsyms.c over the harness's table */
const char *kallsyms_lookup_buildid(unsigned long addr, unsigned long *symbolsize,
                    unsigned long *offset, char **modname,
                    const unsigned char **modbuildid, char *namebuf);
int k_sprintf(char *buf, const char *fmt, ...);
static int __sprint_symbol(char *buffer, unsigned long address,
               int symbol_offset, int add_offset, int add_buildid)
{
    char *modname;
    const unsigned char *buildid;
    const char *name;
    unsigned long offset, size;
    int len;

    address += symbol_offset;
    name = kallsyms_lookup_buildid(address, &size, &offset, &modname, &buildid,
                       buffer);
    if (!name)
        return sprintf(buffer, "0x%lx", address - symbol_offset);

    if (name != buffer)
        strcpy(buffer, name);
    len = strlen(buffer);
    offset -= symbol_offset;

    if (add_offset)
        len += sprintf(buffer + len, "+%#lx/%#lx", offset, size);

    if (modname) {
        len += sprintf(buffer + len, " [%s", modname);
        len += sprintf(buffer + len, "]");
    }

    return len;
}
static int sprint_symbol(char *b, unsigned long a) { return __sprint_symbol(b, a, 0, 1, 0); }
static int sprint_symbol_build_id(char *b, unsigned long a) { return __sprint_symbol(b, a, 0, 1, 1); }
static int sprint_symbol_no_offset(char *b, unsigned long a) { return __sprint_symbol(b, a, 0, 0, 0); }
static int sprint_backtrace(char *b, unsigned long a) { return __sprint_symbol(b, a, -1, 1, 0); }
static int sprint_backtrace_build_id(char *b, unsigned long a) { return __sprint_symbol(b, a, -1, 1, 1); }
#define dereference_symbol_descriptor(p) (p)

/* errname: the table is filled in by the harness generator */
const char *errname(int err);

/* string_escape_mem (lib/string_helpers.c) */
#define ESCAPE_SPACE        BIT(0)
#define ESCAPE_SPECIAL      BIT(1)
#define ESCAPE_NULL     BIT(2)
#define ESCAPE_OCTAL        BIT(3)
#define ESCAPE_ANY      (ESCAPE_SPACE | ESCAPE_OCTAL | ESCAPE_SPECIAL | ESCAPE_NULL)
#define ESCAPE_NP       BIT(4)
#define ESCAPE_ANY_NP       (ESCAPE_ANY | ESCAPE_NP)
#define ESCAPE_HEX      BIT(5)
#define ESCAPE_NA       BIT(6)
#define ESCAPE_NAP      BIT(7)
#define ESCAPE_APPEND       BIT(8)
int string_escape_mem(const char *src, size_t isz, char *dst, size_t osz,
              unsigned int flags, const char *only);

/* struct resource */
struct resource {
    resource_size_t start;
    resource_size_t end;
    const char *name;
    unsigned long flags;
    unsigned long desc;
    struct resource *parent, *sibling, *child;
};
#define IORESOURCE_IO       0x00000100
#define IORESOURCE_MEM      0x00000200
#define IORESOURCE_IRQ      0x00000400
#define IORESOURCE_DMA      0x00000800
#define IORESOURCE_BUS      0x00001000
#define IORESOURCE_PREFETCH 0x00002000
#define IORESOURCE_MEM_64   0x00100000
#define IORESOURCE_WINDOW   0x00200000
#define IORESOURCE_DISABLED 0x10000000
#define IORESOURCE_UNSET    0x20000000
static inline resource_size_t resource_size(const struct resource *res)
{ return res->end - res->start + 1; }

/* bitmaps */
static inline unsigned long find_next_bit(const unsigned long *addr, unsigned long size,
                      unsigned long offset)
{
    for (; offset < size; offset++)
        if (addr[offset / 64] & (1UL << (offset % 64)))
            return offset;
    return size;
}
static inline unsigned long find_next_zero_bit(const unsigned long *addr, unsigned long size,
                           unsigned long offset)
{
    for (; offset < size; offset++)
        if (!(addr[offset / 64] & (1UL << (offset % 64))))
            return offset;
    return size;
}
#define for_each_set_bitrange(b, e, addr, size)         \
    for ((b) = 0;                       \
         (b) = find_next_bit((addr), (size), b),        \
         (e) = find_next_zero_bit((addr), (size), (b) + 1), \
         (b) < (size);                  \
         (b) = (e) + 1)

/* networking */
struct in6_addr { union { u8 u6_addr8[16]; __be16 u6_addr16[8]; __be32 u6_addr32[4]; } in6_u; };
#define s6_addr in6_u.u6_addr8
#define s6_addr16 in6_u.u6_addr16
#define s6_addr32 in6_u.u6_addr32
struct in_addr { __be32 s_addr; };
struct sockaddr { u16 sa_family; char sa_data[14]; };
struct sockaddr_in { u16 sin_family; __be16 sin_port; struct in_addr sin_addr; u8 pad[8]; };
struct sockaddr_in6 { u16 sin6_family; __be16 sin6_port; __be32 sin6_flowinfo;
              struct in6_addr sin6_addr; u32 sin6_scope_id; };
#define AF_INET 2
#define AF_INET6 10
#define IPV6_FLOWINFO_MASK cpu_to_be32(0x0FFFFFFF)
static inline bool ipv6_addr_v4mapped(const struct in6_addr *a)
{
    return ((unsigned long)(a->s6_addr32[0] | a->s6_addr32[1]) |
        (unsigned long)(a->s6_addr32[2] ^ cpu_to_be32(0x0000ffff))) == 0UL;
}
static inline bool ipv6_addr_is_isatap(const struct in6_addr *addr)
{ return (addr->s6_addr32[2] | htonl(0x02000000)) == htonl(0x02005EFE); }

/* uuid */
static const u8 guid_index[16] = {3,2,1,0,5,4,7,6,8,9,10,11,12,13,14,15};
static const u8 uuid_index[16] = {0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15};

/* %pV */
struct va_format { const char *fmt; va_list *va; };

/* dentries, files, block devices: Debian 6.1.0-56-amd64 offsets */
struct qstr { u64 hash_len; const unsigned char *name; };
struct dentry { char pad[24]; struct dentry *d_parent; struct qstr d_name; };
struct path { void *mnt; struct dentry *dentry; };
struct file { char pad[16]; struct path f_path; };
struct gendisk { char pad[12]; char disk_name[32]; };
struct block_device { char pad[848]; u8 bd_partno; char pad2[7]; struct gendisk *bd_disk; };
_Static_assert(__builtin_offsetof(struct block_device, bd_disk) == 856, "bd_disk");

/* clocks */
struct clk_core { const char *name; };
struct clk { struct clk_core *core; };
static inline const char *__clk_get_name(const struct clk *clk)
{ return !clk ? NULL : clk->core->name; }

/* time */
struct rtc_time { int tm_sec, tm_min, tm_hour, tm_mday, tm_mon, tm_year, tm_wday, tm_yday,
          tm_isdst; };
struct tm { int tm_sec, tm_min, tm_hour, tm_mday, tm_mon; long tm_year; int tm_wday, tm_yday; };
#define SECS_PER_HOUR (60 * 60)
#define SECS_PER_DAY (SECS_PER_HOUR * 24)
static inline s64 div_s64_rem(s64 dividend, s32 divisor, s32 *remainder)
{ *remainder = dividend % divisor; return dividend / divisor; }
static inline u64 div64_u64_rem(u64 dividend, u64 divisor, u64 *remainder)
{ *remainder = dividend % divisor; return dividend / divisor; }
void time64_to_tm(time64_t totalsecs, int offset, struct tm *result);

/* page, vma, gfp flags: Debian 6.1.0-56-amd64 */
struct trace_print_flags { unsigned long mask; const char *name; };
extern const struct trace_print_flags pageflag_names[], vmaflag_names[], gfpflag_names[];
#define SECTIONS_WIDTH 0
#define SECTIONS_PGSHIFT 0
#define SECTIONS_MASK 0
#define NODES_WIDTH 10
#define NODES_PGSHIFT 54
#define NODES_MASK 1023
#define ZONES_WIDTH 3
#define ZONES_PGSHIFT 51
#define ZONES_MASK 7
#define LAST_CPUPID_WIDTH 21
#define LAST_CPUPID_PGSHIFT 30
#define LAST_CPUPID_MASK 0x1fffff
#define KASAN_TAG_WIDTH 0
#define KASAN_TAG_PGSHIFT 0
#define KASAN_TAG_MASK 0
#define PAGEFLAGS_MASK ((1UL << 25) - 1)

/* firmware nodes and device tree (CONFIG_OF=n): never reached for valid pointers here */
struct fwnode_handle { int x; };
struct device_node { int phandle; };
struct property { int x; };
#define OF_DYNAMIC 1
#define OF_DETACHED 2
#define OF_POPULATED 3
#define OF_POPULATED_BUS 4
static inline struct fwnode_handle *of_fwnode_handle(struct device_node *dn) { return NULL; }
static inline bool of_node_check_flag(struct device_node *dn, int f) { return false; }
static inline int of_property_read_string(struct device_node *dn, const char *n, const char **p)
{ return -1; }
#define of_property_for_each_string(np, propname, prop, s) \
    for (prop = NULL, s = NULL; s; )
static inline unsigned int fwnode_count_parents(const struct fwnode_handle *f) { return 0; }
static inline struct fwnode_handle *fwnode_get_nth_parent(struct fwnode_handle *f, unsigned int d)
{ return f; }
static inline const char *fwnode_get_name_prefix(const struct fwnode_handle *f) { return ""; }
static inline const char *fwnode_get_name(const struct fwnode_handle *f) { return "fw"; }
static inline void fwnode_handle_put(struct fwnode_handle *f) { }
