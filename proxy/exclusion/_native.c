/* The exclusion matcher's hot loop in C: source bytes -> normalised symbols and lines,
 * and symbols -> k-gram hashes. It is a transcription of lexer.py and
 * normalise.normalise_reference (the specification); tests check that both agree. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

enum { LANG_TEXT = 0, LANG_PYTHON, LANG_JAVASCRIPT, LANG_GO, LANG_JAVA, LANG_RUST, LANG_C };
enum { K_DROP = 0, K_WORD, K_BREAK, K_PUNCT, K_QUOTE };
#define SYM_V 'V'
#define SYM_N 'N'
#define SYM_S 'S'
#define TABLE_SIZE 2048
#define MAX_KEYWORD 32

static unsigned char code_class[256];
static unsigned char text_keep[256];
static char keyword_text[TABLE_SIZE][MAX_KEYWORD + 1];
static uint32_t keyword_symbol[TABLE_SIZE];
static unsigned int keyword_languages[TABLE_SIZE]; /* bit per language id */
static uint32_t import_symbols[8];
static int import_count = 0;

static uint64_t fnv(const unsigned char *s, Py_ssize_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (Py_ssize_t i = 0; i < n; i++) { h ^= s[i]; h *= 1099511628211ULL; }
    return h;
}

static uint32_t lookup_word(const unsigned char *s, Py_ssize_t n, int lang) {
    if (n > MAX_KEYWORD) return SYM_V;
    uint64_t slot = fnv(s, n) & (TABLE_SIZE - 1);
    while (keyword_text[slot][0]) {
        if ((Py_ssize_t)strlen(keyword_text[slot]) == n && memcmp(keyword_text[slot], s, n) == 0)
            return (keyword_languages[slot] >> lang) & 1 ? keyword_symbol[slot] : SYM_V;
        slot = (slot + 1) & (TABLE_SIZE - 1);
    }
    return SYM_V;
}

static void init_tables(void) {
    memset(code_class, K_PUNCT, 256);
    const char *drop = " \t\r\f\v,;()\\";
    for (const char *p = drop; *p; p++) code_class[(unsigned char)*p] = K_DROP;
    for (int c = 0; c < 256; c++) {
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '$' || c >= 0x80)
            code_class[c] = K_WORD;
        text_keep[c] = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c >= 0x80;
    }
    code_class['\n'] = K_BREAK;
    code_class['"'] = code_class['\''] = code_class['`'] = K_QUOTE;
}

/* ---- lexer.py ---- */

static Py_ssize_t line_end(const unsigned char *d, Py_ssize_t n, Py_ssize_t start) {
    const unsigned char *p = memchr(d + start, '\n', (size_t)(n - start));
    return p ? (Py_ssize_t)(p - d) : n;
}

static Py_ssize_t find(const unsigned char *d, Py_ssize_t from, Py_ssize_t limit, const char *q, Py_ssize_t qn) {
    for (Py_ssize_t i = from; i + qn <= limit; i++) {
        const unsigned char *p = memchr(d + i, q[0], (size_t)(limit - i));
        if (!p) return -1;
        i = p - d;
        if (i + qn <= limit && memcmp(d + i, q, (size_t)qn) == 0) return i;
    }
    return -1;
}

static Py_ssize_t closing(const unsigned char *d, Py_ssize_t n, Py_ssize_t pos, const char *q, Py_ssize_t qn,
                          int multiline, int escapes) {
    Py_ssize_t limit = multiline ? n : line_end(d, n, pos);
    for (;;) {
        Py_ssize_t found = find(d, pos, limit, q, qn);
        if (found < 0) return limit;
        if (escapes) {
            Py_ssize_t bs = 0;
            while (found - bs - 1 >= pos && d[found - bs - 1] == '\\') bs++;
            if (bs % 2) { pos = found + 1; continue; }
        }
        return found + qn;
    }
}

/* -1: not a string (a Rust lifetime) */
static Py_ssize_t string_end(const unsigned char *d, Py_ssize_t n, Py_ssize_t start, int lang) {
    char q[4] = {(char)d[start], (char)d[start], (char)d[start], 0};
    if ((lang == LANG_PYTHON || lang == LANG_JAVA) && start + 3 <= n && d[start + 1] == d[start] && d[start + 2] == d[start])
        return closing(d, n, start + 3, q, 3, 1, 1);
    if ((lang == LANG_JAVASCRIPT || lang == LANG_GO) && d[start] == '`')
        return closing(d, n, start + 1, q, 1, 1, lang != LANG_GO);
    if (lang == LANG_RUST && d[start] == '\'') {
        Py_ssize_t end = closing(d, n, start + 1, q, 1, 0, 1);
        return (end - start <= 12 && end >= 1 && d[end - 1] == '\'') ? end : -1;
    }
    return closing(d, n, start + 1, q, 1, 0, 1);
}

static int is_opener(int lang, unsigned char c) {
    switch (lang) {
    case LANG_PYTHON: return c == '#' || c == '"' || c == '\'';
    case LANG_JAVASCRIPT: case LANG_GO: return c == '/' || c == '"' || c == '\'' || c == '`';
    default: return c == '/' || c == '"' || c == '\'';
    }
}

/* Marks blank[i] = 1 inside comments and string contents. */
static void mark_literals(const unsigned char *d, Py_ssize_t n, int lang, unsigned char *blank) {
    Py_ssize_t pos = 0;
    while (pos < n) {
        Py_ssize_t mstart = -1, start = -1;
        for (Py_ssize_t i = pos; i < n; i++) {
            if (lang == LANG_C && (i == 0 || d[i - 1] == '\n')) {
                Py_ssize_t j = i;
                while (j < n && (d[j] == ' ' || d[j] == '\t')) j++;
                if (j < n && d[j] == '#') { mstart = i; start = j; break; }
            }
            if (is_opener(lang, d[i])) { mstart = start = i; break; }
        }
        if (start < 0) return;
        unsigned char c = d[start];
        unsigned char next = start + 1 < n ? d[start + 1] : 0;
        Py_ssize_t from, end;
        if (c == '#' || (c == '/' && next == '/')) {
            end = line_end(d, n, start);
            from = c == '#' ? mstart : start;
        } else if (c == '/' && next == '*') {
            Py_ssize_t close = find(d, start + 2, n, "*/", 2);
            end = close < 0 ? n : close + 2;
            from = start;
        } else if (c == '/') {
            pos = start + 1;
            continue;
        } else {
            end = string_end(d, n, start, lang);
            if (end < 0) { pos = start + 1; continue; }
            from = start + 1;
        }
        if (end > from) memset(blank + from, 1, (size_t)(end - from));
        pos = end > start + 1 ? end : start + 1;
    }
}

/* ---- normalise.normalise_reference ---- */

static PyObject *normalise(PyObject *self, PyObject *args) {
    Py_buffer buf;
    int lang;
    if (!PyArg_ParseTuple(args, "y*i", &buf, &lang)) return NULL;
    const unsigned char *d = buf.buf;
    Py_ssize_t n = buf.len, count = 0;
    uint32_t *sym = PyMem_Malloc(sizeof(uint32_t) * (size_t)(n + 1));
    int32_t *line = PyMem_Malloc(sizeof(int32_t) * (size_t)(n + 1));
    unsigned char *blank = lang == LANG_TEXT ? NULL : PyMem_Calloc((size_t)n + 1, 1);
    if (!sym || !line || (lang != LANG_TEXT && !blank)) {
        PyMem_Free(sym); PyMem_Free(line); PyMem_Free(blank); PyBuffer_Release(&buf);
        return PyErr_NoMemory();
    }
    int32_t ln = 1;
    Py_BEGIN_ALLOW_THREADS
    if (lang == LANG_TEXT) {
        for (Py_ssize_t i = 0; i < n; i++) {
            unsigned char c = d[i];
            if (c == '\n') { ln++; continue; }
            if (c >= 'A' && c <= 'Z') c = (unsigned char)(c + 32);
            if (text_keep[c]) { sym[count] = c; line[count++] = ln; }
        }
    } else {
        mark_literals(d, n, lang, blank);
        Py_ssize_t i = 0;
        while (i < n) {
            unsigned char c = d[i], k = code_class[c];
            if (k == K_BREAK) { ln++; i++; continue; }
            if (blank[i] || k == K_DROP) { i++; continue; }
            if (k == K_WORD) {
                Py_ssize_t e = i;
                while (e < n && code_class[d[e]] == K_WORD && !blank[e]) e++;
                sym[count] = (c >= '0' && c <= '9') ? SYM_N : lookup_word(d + i, e - i, lang);
                line[count++] = ln;
                i = e;
                continue;
            }
            sym[count] = k == K_QUOTE ? SYM_S : c;
            line[count++] = ln;
            i++;
        }
        /* drop every line whose first symbol is an import keyword */
        Py_ssize_t out = 0, head = 0;
        while (head < count) {
            Py_ssize_t tail = head;
            while (tail < count && line[tail] == line[head]) tail++;
            int drop = 0;
            for (int j = 0; j < import_count; j++) drop |= sym[head] == import_symbols[j];
            if (!drop) {
                memmove(sym + out, sym + head, sizeof(uint32_t) * (size_t)(tail - head));
                memmove(line + out, line + head, sizeof(int32_t) * (size_t)(tail - head));
                out += tail - head;
            }
            head = tail;
        }
        count = out;
    }
    Py_END_ALLOW_THREADS
    PyObject *result = Py_BuildValue("(y#y#)", (const char *)sym, count * (Py_ssize_t)sizeof(uint32_t),
                                     (const char *)line, count * (Py_ssize_t)sizeof(int32_t));
    PyMem_Free(sym); PyMem_Free(line); PyMem_Free(blank);
    PyBuffer_Release(&buf);
    return result;
}

/* ---- fingerprint.kgram_hashes_reference ---- */

static uint64_t mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static PyObject *kgram_hashes(PyObject *self, PyObject *args) {
    Py_buffer buf;
    Py_ssize_t k;
    unsigned long long base;
    if (!PyArg_ParseTuple(args, "y*nK", &buf, &k, &base)) return NULL;
    const uint32_t *s = buf.buf;
    Py_ssize_t n = buf.len / (Py_ssize_t)sizeof(uint32_t);
    Py_ssize_t m = (k > 0 && n >= k) ? n - k + 1 : 0;
    PyObject *out = PyBytes_FromStringAndSize(NULL, m * (Py_ssize_t)sizeof(uint64_t));
    if (!out) { PyBuffer_Release(&buf); return NULL; }
    uint64_t *h = (uint64_t *)PyBytes_AS_STRING(out);
    Py_BEGIN_ALLOW_THREADS
    if (m) {
        uint64_t top = 1, acc = 0;
        for (Py_ssize_t j = 0; j < k; j++) { acc = acc * base + s[j]; if (j) top *= base; }
        h[0] = mix(acc);
        for (Py_ssize_t i = 1; i < m; i++) {
            acc = (acc - s[i - 1] * top) * base + s[i + k - 1];
            h[i] = mix(acc);
        }
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&buf);
    return out;
}

static PyObject *setup(PyObject *self, PyObject *args) {
    PyObject *keywords, *imports, *masks;
    unsigned int first;
    if (!PyArg_ParseTuple(args, "O!IO!O!", &PyTuple_Type, &keywords, &first, &PyTuple_Type, &imports, &PyTuple_Type,
                          &masks))
        return NULL;
    if (PyTuple_GET_SIZE(masks) != PyTuple_GET_SIZE(keywords)) {
        PyErr_SetString(PyExc_ValueError, "one language mask per keyword");
        return NULL;
    }
    memset(keyword_text, 0, sizeof keyword_text);
    Py_ssize_t count = PyTuple_GET_SIZE(keywords);
    if (count > TABLE_SIZE / 2 || PyTuple_GET_SIZE(imports) > 8) {
        PyErr_SetString(PyExc_ValueError, "too many keywords");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        char *word; Py_ssize_t len;
        if (PyBytes_AsStringAndSize(PyTuple_GET_ITEM(keywords, i), &word, &len) < 0) return NULL;
        if (len > MAX_KEYWORD) { PyErr_SetString(PyExc_ValueError, "keyword too long"); return NULL; }
        uint64_t slot = fnv((const unsigned char *)word, len) & (TABLE_SIZE - 1);
        while (keyword_text[slot][0]) slot = (slot + 1) & (TABLE_SIZE - 1);
        memcpy(keyword_text[slot], word, (size_t)len);
        keyword_symbol[slot] = first + (uint32_t)i;
        keyword_languages[slot] = (unsigned int)PyLong_AsUnsignedLong(PyTuple_GET_ITEM(masks, i));
    }
    import_count = (int)PyTuple_GET_SIZE(imports);
    for (int j = 0; j < import_count; j++) import_symbols[j] = (uint32_t)PyLong_AsUnsignedLong(PyTuple_GET_ITEM(imports, j));
    if (PyErr_Occurred()) return NULL;
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"setup", setup, METH_VARARGS, "setup(keywords, first_symbol, import_symbols, language_masks)"},
    {"normalise", normalise, METH_VARARGS, "normalise(data, language_id) -> (symbols u32 bytes, lines i32 bytes)"},
    {"kgram_hashes", kgram_hashes, METH_VARARGS, "kgram_hashes(symbols u32 bytes, k, base) -> u64 bytes"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_native", NULL, -1, methods};

PyMODINIT_FUNC PyInit__native(void) {
    init_tables();
    return PyModule_Create(&module);
}
