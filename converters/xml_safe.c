#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/xmlerror.h>

#include "xml_safe.h"

/* Rebuild the context (and its dictionary) past this many interned names. */
#define DICT_MAX_NAMES 50000

#define XINCLUDE_NS     "http://www.w3.org/2001/XInclude"
#define XINCLUDE_NS_OLD "http://www.w3.org/2003/XInclude"

/* NOCDATA: CDATA sections become text, so text() and string() see one node.
 * COMPACT: small text stored in the node, fewer allocations.
 * NOERROR / NOWARNING: nothing printed; the reason is taken from the context. */
static const int parse_options = XML_PARSE_NONET | XML_PARSE_NOCDATA | XML_PARSE_COMPACT |
                                 XML_PARSE_NOERROR | XML_PARSE_NOWARNING;

struct cut_xml_parser {
    xmlParserCtxtPtr ctxt;
    struct cut_xml_limits limits;
    startElementNsSAX2Func start_element; /* libxml2's own, called after our checks */
    const char *refused;                  /* static reason set by a SAX hook */
};

static xmlParserInputPtr refuse_entity(const char *url, const char *id, xmlParserCtxtPtr ctxt)
{
    (void)id;
    (void)ctxt;
    (void)url;
    return NULL;
}

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void init(void)
{
    xmlInitParser();
    xmlSetExternalEntityLoader(refuse_entity);
}

void cut_xml_init(void)
{
    pthread_once(&init_once, init);
}

static const char too_deep[] = "elements nested too deep";

static void refuse(xmlParserCtxtPtr ctxt, const char *why)
{
    struct cut_xml_parser *parser = ctxt->_private;
    if (parser->refused == NULL) {
        parser->refused = why;
    }
    xmlStopParser(ctxt);
}

static void on_internal_subset(void *ctx, const xmlChar *name, const xmlChar *external_id,
                               const xmlChar *system_id)
{
    (void)name;
    (void)external_id;
    (void)system_id;
    refuse(ctx, "a DOCTYPE (DTD) is not allowed");
}

static void on_entity_decl(void *ctx, const xmlChar *name, int type, const xmlChar *public_id,
                           const xmlChar *system_id, xmlChar *content)
{
    (void)name;
    (void)type;
    (void)public_id;
    (void)system_id;
    (void)content;
    refuse(ctx, "an entity declaration is not allowed");
}

static void on_start_element(void *ctx, const xmlChar *localname, const xmlChar *prefix,
                             const xmlChar *uri, int nb_namespaces, const xmlChar **namespaces,
                             int nb_attributes, int nb_defaulted, const xmlChar **attributes)
{
    xmlParserCtxtPtr ctxt = ctx;
    struct cut_xml_parser *parser = ctxt->_private;

    /* nameNr counts the open ancestors: this element is one deeper. */
    if (ctxt->nameNr + 1 > parser->limits.max_depth) {
        refuse(ctxt, too_deep);
        return;
    }
    if (uri != NULL && (strcmp((const char *)uri, XINCLUDE_NS) == 0 ||
                        strcmp((const char *)uri, XINCLUDE_NS_OLD) == 0)) {
        refuse(ctxt, "XInclude is not allowed");
        return;
    }
    parser->start_element(ctx, localname, prefix, uri, nb_namespaces, namespaces, nb_attributes,
                          nb_defaulted, attributes);
}

static int ctxt_new(struct cut_xml_parser *parser)
{
    xmlParserCtxtPtr ctxt = xmlNewParserCtxt();
    if (ctxt == NULL || ctxt->sax == NULL) {
        xmlFreeParserCtxt(ctxt);
        return -1;
    }
    /* Each context has its own copy of the SAX handler: hook ours in. */
    ctxt->_private = parser;
    parser->start_element = ctxt->sax->startElementNs;
    ctxt->sax->startElementNs = on_start_element;
    ctxt->sax->internalSubset = on_internal_subset;
    ctxt->sax->externalSubset = on_internal_subset;
    ctxt->sax->entityDecl = on_entity_decl;
    ctxt->sax->resolveEntity = NULL;
    ctxt->sax->getParameterEntity = NULL;
    parser->ctxt = ctxt;
    return 0;
}

int cut_xml_parser_create(struct cut_xml_parser **out, const struct cut_xml_limits *limits,
                          struct cut_err *err)
{
    struct cut_xml_parser *parser = calloc(1, sizeof(*parser));

    *out = NULL;
    cut_xml_init();
    if (parser == NULL) {
        return cut_err_set(err, CUT_ENOMEM, "out of memory");
    }
    parser->limits = *limits;
    if (parser->limits.max_bytes == 0 || parser->limits.max_bytes > INT_MAX) {
        parser->limits.max_bytes = CUT_XML_DEFAULT_MAX_BYTES;
    }
    if (parser->limits.max_depth <= 0 || parser->limits.max_depth > CUT_XML_MAX_DEPTH_LIMIT) {
        parser->limits.max_depth = CUT_XML_DEFAULT_MAX_DEPTH;
    }
    if (parser->limits.max_attributes <= 0) {
        parser->limits.max_attributes = CUT_XML_DEFAULT_MAX_ATTRIBUTES;
    }
    if (ctxt_new(parser) < 0) {
        free(parser);
        return cut_err_set(err, CUT_ENOMEM, "out of memory creating the XML parser");
    }
    *out = parser;
    return CUT_OK;
}

/* libxml2's message, on one line, without the trailing newline. */
static void error_text(const xmlError *e, char *out, size_t size)
{
    size_t n = 0;
    const char *msg = e != NULL && e->message != NULL ? e->message : "unknown error";
    for (const char *p = msg; *p != '\0' && n + 1 < size; p++) {
        out[n++] = (*p == '\n' || *p == '\r' || *p == '\t') ? ' ' : *p;
    }
    while (n > 0 && out[n - 1] == ' ') {
        n--;
    }
    out[n] = '\0';
}

/* The end of what starts at @p p (after "<!--", "<?", ...): just past @p end, or @p limit. */
static const char *skip_to(const char *p, const char *limit, const char *end)
{
    const char *at = memmem(p, (size_t)(limit - p), end, strlen(end));
    return at != NULL ? at + strlen(end) : limit;
}

/*
 * Whether some start tag has more than @p max attributes: '=' signs outside
 * quotes between '<' and '>', comments, CDATA sections and processing
 * instructions skipped. One pass, no allocation; a malformed document is
 * left for the parser to refuse.
 */
static bool too_many_attributes(const char *buf, size_t len, int max)
{
    const char *p = buf, *limit = buf + len;
    while (p < limit) {
        p = memchr(p, '<', (size_t)(limit - p));
        if (p == NULL || ++p >= limit) {
            return false;
        }
        if (*p == '?') {
            p = skip_to(p, limit, "?>");
            continue;
        }
        if (*p == '!') {
            if ((size_t)(limit - p) >= 3 && memcmp(p, "!--", 3) == 0) {
                p = skip_to(p + 3, limit, "-->");
            } else if ((size_t)(limit - p) >= 8 && memcmp(p, "![CDATA[", 8) == 0) {
                p = skip_to(p + 8, limit, "]]>");
            }
            continue; /* a DOCTYPE: the parser refuses it */
        }
        if (*p == '/') {
            continue;
        }
        int count = 0;
        char quote = 0;
        for (; p < limit; p++) {
            char c = *p;
            if (quote != 0) {
                if (c == quote) {
                    quote = 0;
                }
            } else if (c == '"' || c == '\'') {
                quote = c;
            } else if (c == '=') {
                if (++count > max) {
                    return true;
                }
            } else if (c == '>') {
                break;
            }
        }
    }
    return false;
}

int cut_xml_parse(struct cut_xml_parser *parser, const void *buf, size_t len, xmlDocPtr *doc,
                  struct cut_err *err)
{
    char text[256];
    int rc = CUT_OK;

    *doc = NULL;
    if (len > parser->limits.max_bytes) {
        return cut_err_set(err, CUT_EINVAL,
                           "XML refused: document of %zu bytes is larger than the limit of %zu",
                           len, parser->limits.max_bytes);
    }
    if (len == 0) {
        return cut_err_set(err, CUT_EINVAL, "XML not well-formed: empty body");
    }
    if (too_many_attributes(buf, len, parser->limits.max_attributes)) {
        return cut_err_set(err, CUT_EINVAL, "XML refused: an element has more than %d attributes",
                           parser->limits.max_attributes);
    }
    if (parser->ctxt == NULL && ctxt_new(parser) < 0) {
        return cut_err_set(err, CUT_ENOMEM, "out of memory creating the XML parser");
    }
    parser->refused = NULL;
    xmlDocPtr d = xmlCtxtReadMemory(parser->ctxt, buf, (int)len, NULL, NULL, parse_options);
    if (parser->refused != NULL) {
        if (parser->refused == too_deep) {
            rc = cut_err_set(err, CUT_EINVAL, "XML refused: %s (the limit is %d levels)", too_deep,
                             parser->limits.max_depth);
        } else {
            rc = cut_err_set(err, CUT_EINVAL, "XML refused: %s", parser->refused);
        }
    } else if (d == NULL || !parser->ctxt->wellFormed || !parser->ctxt->nsWellFormed) {
        /* A namespace error (an undeclared prefix) leaves wellFormed set:
         * it is still not a document the XPath expressions can read. */
        const xmlError *e = xmlCtxtGetLastError(parser->ctxt);
        error_text(e, text, sizeof(text));
        if (e != NULL && e->code == XML_ERR_NO_MEMORY) {
            rc = cut_err_set(err, CUT_ENOMEM, "out of memory parsing XML");
        } else {
            rc = cut_err_set(err, CUT_EINVAL, "XML not well-formed: line %d: %s",
                             e != NULL ? e->line : 0, text);
        }
    }
    if (rc != CUT_OK) {
        xmlFreeDoc(d);
        d = NULL;
    }
    /* A context that has met many distinct names is rebuilt: its dictionary
     * only grows. The document keeps its own reference to the old one. */
    if (parser->ctxt->dict != NULL && xmlDictSize(parser->ctxt->dict) > DICT_MAX_NAMES) {
        xmlFreeParserCtxt(parser->ctxt);
        parser->ctxt = NULL;
    }
    *doc = d;
    return rc;
}

void cut_xml_parser_destroy(struct cut_xml_parser *parser)
{
    if (parser == NULL) {
        return;
    }
    xmlFreeParserCtxt(parser->ctxt);
    free(parser);
}
