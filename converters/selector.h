/*
 * JMS message selectors (JMS 2.0, section 3.8.1.1): the SQL-92 conditional
 * expression subset that legacy consumers use to pick messages, evaluated
 * over the envelope so that a flow can send to Kafka exactly what the legacy
 * consumer would have received.
 *
 * A selector is compiled once into an immutable tree; evaluation reads the
 * message and never allocates. A message is selected only when the selector
 * is TRUE; FALSE and UNKNOWN (SQL's NULL logic) both leave it out.
 *
 * Identifiers resolve to:
 *   JMSDeliveryMode   'PERSISTENT' or 'NON_PERSISTENT' (msg->durable)
 *   JMSPriority       exact numeric, msg->priority; 4 (the JMS default) when absent
 *   JMSMessageID      string, NULL when absent
 *   JMSTimestamp      exact numeric, msg->timestamp_ms; 0 when absent, as
 *                     Message.getJMSTimestamp() returns with timestamps disabled
 *   JMSCorrelationID  string, NULL when absent
 *   JMSType           string, NULL when absent
 *   JMSXGroupID       string, NULL when absent
 *   JMSXGroupSeq      exact numeric, NULL when absent (group_seq -1)
 *   JMSXDeliveryCount exact numeric, delivery_count + 1
 *   JMSXUserID        string, NULL when absent
 *   anything else     the application property of that name (first match in
 *                     msg->props): bool → boolean; byte, short, int, long →
 *                     exact numeric (Java long); float, double → approximate
 *                     (Java double); string → string; absent, null, bytes,
 *                     uuid, symbol and timestamp → NULL (none of them is a JMS
 *                     property type, so no JMS selector can compare them).
 * The spec restricts header references to the six JMS headers above; other
 * JMS-prefixed names (JMSExpiration, JMSRedelivered, ...) are looked up as
 * properties like any other name, and are NULL unless a source put them there.
 *
 * Type rules, as section 3.8.1.1 states them:
 *   - NULL (an absent property) in a comparison or in arithmetic gives
 *     UNKNOWN/NULL; IS [NOT] NULL turns it into TRUE or FALSE; AND, OR, NOT
 *     follow SQL's three-valued truth tables.
 *   - only like types compare; exact and approximate numbers compare after
 *     Java numeric promotion (long → double). Comparing unlike types (a string
 *     with a number, a boolean with a number) is FALSE, not UNKNOWN, for every
 *     comparison operator including <>, NOT BETWEEN, NOT IN and NOT LIKE: the
 *     spec says the value of the operation is false.
 *   - strings and booleans compare with = and <> only. With a literal operand
 *     this is a compile error; with a property that turns out to be a string
 *     at run time the comparison is FALSE (unlike types for that operator).
 *   - [NOT] BETWEEN is defined as the two comparisons (>= AND <=, or < OR >).
 *   - [NOT] IN and [NOT] LIKE are UNKNOWN when the identifier is NULL and
 *     FALSE when it is not a string.
 *   - arithmetic follows Java: exact op exact is 64-bit long arithmetic that
 *     wraps on overflow (int, short and byte properties widen to long);
 *     anything with an approximate operand is double arithmetic (float widens
 *     to double). Arithmetic on a non-number found at run time is NULL.
 *   - division by zero, exact or approximate, is NULL (so the comparison
 *     that uses it is UNKNOWN) rather than Java's exception or Infinity: a
 *     message is never selected because of a division by zero.
 *   - an identifier used as a condition (`flag AND x > 1`) is its boolean
 *     value; a non-boolean there is UNKNOWN.
 *
 * Syntax: literals as in Java ('it''s', 57, 0x1F, 017, 57L, 7., .5, 7E3,
 * 1.5f, 2d), TRUE/FALSE, identifiers by Java's rules (ASCII letters, digits,
 * '_' and '$', and any non-ASCII character), keywords NULL TRUE FALSE NOT AND
 * OR BETWEEN LIKE IN IS ESCAPE case-insensitive and reserved. In LIKE, '_' is
 * one character (one UTF-8 code point), '%' any sequence; the escape
 * character makes the next character literal. IN lists hold string literals
 * only. An empty (or all-blank) selector, like a NULL one, selects every
 * message, as the spec says of the empty string.
 *
 * Limits against hostile selectors: CUT_SELECTOR_MAX_LEN bytes of text,
 * CUT_SELECTOR_MAX_DEPTH levels of nesting (parentheses, prefix operators,
 * and the height of the compiled tree, which bounds the evaluator's
 * recursion: about 50 KiB of stack for the deepest tree). LIKE never
 * backtracks exponentially: '%'-separated segments are matched
 * leftmost-first, O(n + m) when the pattern has no '_' and O(n * m) at worst.
 * An IN list is scanned linearly.
 *
 * Errors: cut_selector_compile() reports a syntax or type error as
 * CUT_EINVAL with a message naming the 1-based column (in characters) and
 * what was expected, e.g. `selector: column 17: expected an expression after
 * "AND"`.
 *
 * Thread safety: a compiled selector is immutable; any number of threads may
 * evaluate it at once. Destroy it when no evaluation is running.
 */
#ifndef CUTOVER_SELECTOR_H
#define CUTOVER_SELECTOR_H

#include "cutover/msg.h"
#include "cutover/status.h"

/** Longest selector text accepted, in bytes. */
#define CUT_SELECTOR_MAX_LEN 65536
/** Deepest nesting accepted (parentheses, prefix operators, tree height). */
#define CUT_SELECTOR_MAX_DEPTH 256

struct cut_selector;

/** SQL's three truth values. */
enum cut_tri {
    CUT_TRI_FALSE = 0,
    CUT_TRI_TRUE = 1,
    CUT_TRI_UNKNOWN = 2,
};

/**
 * Compile @p text (UTF-8, NUL-terminated; borrowed for the call only).
 * NULL, empty or blank text compiles to a selector that selects everything.
 *
 * @param sel receives the new selector on success; the caller owns it and
 *            frees it with cut_selector_destroy(). Untouched on failure.
 * @return CUT_OK; CUT_EINVAL with the column and the reason in @p err for a
 *         syntax or type error or a limit exceeded; CUT_ENOMEM.
 */
int cut_selector_compile(const char *text, struct cut_selector **sel, struct cut_err *err);

/**
 * The selector's three-valued value for @p msg (borrowed for the call).
 * Never allocates. A NULL @p sel is TRUE (no selector).
 */
enum cut_tri cut_selector_eval(const struct cut_selector *sel, const struct cut_msg *msg);

/** 1 when @p sel selects @p msg (is TRUE), 0 when it is FALSE or UNKNOWN. */
int cut_selector_match(const struct cut_selector *sel, const struct cut_msg *msg);

/** Free @p sel. Accepts NULL. */
void cut_selector_destroy(struct cut_selector *sel);

#endif
