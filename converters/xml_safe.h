/*
 * libxml2 set up for untrusted documents (libxml2 2.9 is not safe on them by
 * default; see RELIABILITY.md, "Untrusted input").
 *
 *   - The document's size is checked before anything is parsed.
 *   - Parse options: XML_PARSE_NONET, never NOENT, DTDLOAD, XINCLUDE or HUGE.
 *   - A document with a DOCTYPE is refused as soon as the parser meets it:
 *     no DTD (internal or external) is ever built, so no entity is declared,
 *     expanded or loaded. A message body has no use for a DTD, and refusing
 *     them all closes billion laughs, external entities and external DTDs at
 *     once. An entity reference without a DTD is a well-formedness error.
 *   - The process-wide external entity loader refuses everything (belt and
 *     braces: nothing should ever reach it).
 *   - Elements with more than max_attributes attributes are refused before
 *     parsing, by a linear scan of the bytes: libxml2 2.9 checks duplicate
 *     attributes pairwise, so a megabyte of attributes on one element costs
 *     it tens of seconds.
 *   - Elements deeper than max_depth stop the parse; xi:include elements are
 *     refused (XInclude is never processed, and a document that asks for it is
 *     not what the mapping expects).
 *   - One parser context is reused for every document (xmlCtxtReadMemory);
 *     it is rebuilt when its name dictionary grows large, so that documents
 *     full of distinct names cannot grow memory without bound.
 *
 * A refused or malformed document gives CUT_EINVAL and a reason fit for a
 * dead-letter header ("XML refused: ...", "XML not well-formed: line 3: ...").
 *
 * Thread safety: a parser belongs to one thread. cut_xml_init() sets
 * libxml2's global state and may be called from any thread, any number of
 * times (it runs once).
 */
#ifndef CUTOVER_XML_SAFE_H
#define CUTOVER_XML_SAFE_H

#include <stddef.h>

#include <libxml/tree.h>

#include "cutover/status.h"

#define CUT_XML_DEFAULT_MAX_BYTES      (1024 * 1024)
#define CUT_XML_DEFAULT_MAX_DEPTH      64
#define CUT_XML_DEFAULT_MAX_ATTRIBUTES 256
/* Below libxml2's own limit of 256, so that ours is the one that speaks. */
#define CUT_XML_MAX_DEPTH_LIMIT 200

struct cut_xml_limits {
    size_t max_bytes;   /**< largest document accepted, in bytes */
    int max_depth;      /**< deepest element nesting accepted (the root is 1) */
    int max_attributes; /**< most attributes (namespace declarations included) on one element */
};

struct cut_xml_parser;

/** Initialise libxml2 and install the refusing external entity loader. Idempotent. */
void cut_xml_init(void);

/** @p limits is copied. */
int cut_xml_parser_create(struct cut_xml_parser **parser, const struct cut_xml_limits *limits,
                          struct cut_err *err);

/**
 * Parse @p buf (@p len bytes; borrowed for the call).
 *
 * @param doc  receives the document, owned by the caller (xmlFreeDoc)
 * @return CUT_OK; CUT_EINVAL with the reason when the document is refused or
 *         malformed; CUT_ENOMEM.
 */
int cut_xml_parse(struct cut_xml_parser *parser, const void *buf, size_t len, xmlDocPtr *doc,
                  struct cut_err *err);

/** Accepts NULL. */
void cut_xml_parser_destroy(struct cut_xml_parser *parser);

#endif
