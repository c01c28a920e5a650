#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdarg.h>
#include <sys/mman.h>

int k_snprintf(char *buf, size_t size, const char *fmt, ...);
int k_scnprintf(char *buf, size_t size, const char *fmt, ...);
void harness_init_hashval(void);
int harness_warnings;
unsigned char harness_key[16];
struct cred { int euid, uid, egid, gid; } harness_cred;
int harness_cap_syslog = 1;
extern int kptr_restrict;
extern bool no_hash_pointers;

const char *_parse_integer_fixup_radix(const char *s, unsigned int *base) { return s; }
unsigned int _parse_integer_limit(const char *s, unsigned int base, unsigned long long *res,
                  size_t max_chars) { *res = 0; return 0; }

struct va_format { const char *fmt; va_list *va; };

static int call_pV(char *buf, size_t size, const char *outer, const char *inner, ...)
{
    va_list ap;
    int r;

    va_start(ap, inner);
    struct va_format vf = { inner, &ap };
    r = k_snprintf(buf, size, outer, &vf);
    va_end(ap);
    return r;
}

struct sym { unsigned long addr, size; char name[128]; char mod[64]; };
static struct sym syms[256];
static int nsyms;

const char *kallsyms_lookup_buildid(unsigned long addr, unsigned long *symbolsize,
                    unsigned long *offset, char **modname,
                    const unsigned char **modbuildid, char *namebuf)
{
    for (int i = 0; i < nsyms; i++) {
        if (addr >= syms[i].addr && addr < syms[i].addr + syms[i].size) {
            *symbolsize = syms[i].size;
            *offset = addr - syms[i].addr;
            *modname = syms[i].mod[0] ? syms[i].mod : NULL;
            *modbuildid = NULL;
            strcpy(namebuf, syms[i].name);
            return namebuf;
        }
    }
    return NULL;
}

static unsigned char *unhex(const char *h, size_t *n)
{
    size_t len = strlen(h) / 2;
    unsigned char *b = malloc(len + 1);
    for (size_t i = 0; i < len; i++)
        sscanf(h + 2 * i, "%2hhx", &b[i]);
    b[len] = 0;
    *n = len;
    return b;
}

static void puthex(const unsigned char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        printf("%02x", b[i]);
}

int main(void)
{
    static char line[1 << 20];
    static char buf[1 << 20];
    while (fgets(line, sizeof(line), stdin)) {
        line[strcspn(line, "\n")] = 0;
        char *tok = strtok(line, " ");
        if (!tok)
            continue;
        if (!strcmp(tok, "M")) {
            unsigned long addr = strtoul(strtok(NULL, " "), NULL, 16);
            size_t n;
            unsigned char *data = unhex(strtok(NULL, " "), &n);
            unsigned long lo = addr & ~4095UL, hi = (addr + n + 4095) & ~4095UL;
            void *p = mmap((void *)lo, hi - lo, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
            if (p != (void *)lo) {
                fprintf(stderr, "mmap %lx failed\n", lo);
                return 1;
            }
            memcpy((void *)addr, data, n);
        } else if (!strcmp(tok, "K")) {
            size_t n;
            unsigned char *k = unhex(strtok(NULL, " "), &n);
            memcpy(harness_key, k, 16);
            harness_init_hashval();
        } else if (!strcmp(tok, "S")) {
            struct sym *s = &syms[nsyms++];
            s->addr = strtoul(strtok(NULL, " "), NULL, 16);
            s->size = strtoul(strtok(NULL, " "), NULL, 16);
            strcpy(s->name, strtok(NULL, " "));
            char *m = strtok(NULL, " ");
            strcpy(s->mod, strcmp(m, "-") ? m : "");
        } else if (!strcmp(tok, "P")) {
            kptr_restrict = atoi(strtok(NULL, " "));
            harness_cap_syslog = atoi(strtok(NULL, " "));
            no_hash_pointers = atoi(strtok(NULL, " "));
        } else if (!strcmp(tok, "T") || !strcmp(tok, "U") || !strcmp(tok, "V")) {
            /* T: snprintf, U: scnprintf, V: snprintf(outer, &va_format{inner, args}) */
            char kind = tok[0];
            size_t size = strtoul(strtok(NULL, " "), NULL, 10);
            size_t n;
            unsigned char *fmt = unhex(strtok(NULL, " "), &n);
            unsigned char *inner = kind == 'V' ? unhex(strtok(NULL, " "), &n) : NULL;
            unsigned long a[16] = {0};
            char *t;
            int r;

            for (int i = 0; i < 16 && (t = strtok(NULL, " ")); i++)
                a[i] = strtoul(t, NULL, 16);
            memset(buf, 0xaa, size + 1);
            harness_warnings = 0;
            if (kind == 'V')
                r = call_pV(buf, size, (char *)fmt, (char *)inner,
                        a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8],
                        a[9], a[10], a[11], a[12], a[13], a[14], a[15]);
            else
                r = (kind == 'U' ? k_scnprintf : k_snprintf)(buf, size, (char *)fmt,
                        a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8],
                        a[9], a[10], a[11], a[12], a[13], a[14], a[15]);
            printf("R %d %d ", r, harness_warnings);
            puthex((unsigned char *)buf, (size_t)r + 1 < size ? (size_t)r + 1 : size);
            printf("\n");
            fflush(stdout);
            free(fmt);
            free(inner);
        }
    }
    return 0;
}
