/*
 * tensor_rules.h — qk-quantize's per-tensor type rules, --tensor-type REGEX=TYPE and
 * --tensor-type-file FILE: parsing, compiling and freeing them. How the rules take part in
 * the mixture (when they apply, which one wins, the fallback) is mixture.h's business.
 *
 * A rule is "REGEX=TYPE", split at the first '='. What llama-quantize does with one
 * (tools/quantize/quantize.cpp parse_tensor_type, PR #12511 and later) and qkit repeats:
 *  - the REGEX is lower-cased before it is compiled (tensor names are lower case; note that
 *    this also turns the escapes \W \S \B into \w \s \b, in llama.cpp as here);
 *  - the TYPE is a ggml type name, any case ("q6_K", "Q8_0", "f16");
 *  - an empty REGEX, an empty TYPE or an unknown TYPE is an error.
 * Where qkit differs:
 *  - the REGEX is a POSIX extended regular expression (regcomp REG_EXTENDED, glibc), not
 *    C++ std::regex's ECMAScript: no \d (write [0-9]), no lazy quantifiers (*?, +?), no
 *    look-ahead, no (?:...) groups, and a backslash inside [...] is a literal backslash.
 *    Plain names, '.', '\.', '|', '(...)', '[0-9]', '+', '*', '?', '^', '$' and {m,n} mean
 *    the same in both, and both look for a match anywhere in the name (search, not a
 *    full match): "attn_v" matches "blk.0.attn_v.weight"; anchor with ^ and $;
 *  - a rules file holds one rule per line; '#' starts a comment (to the end of the line),
 *    blank lines are skipped, surrounding white space is ignored. llama.cpp reads
 *    white-space separated words and has no comments, so a file of one rule per line
 *    reads the same in both;
 *  - the TYPE must be one qkit can store a weight in (not the activation types Q8_1, Q8_K).
 */
#ifndef QK_TENSOR_RULES_H
#define QK_TENSOR_RULES_H

#include <stddef.h>

#include "error.h"
#include "mixture.h"

/* The rules in command-line order (the rules of a --tensor-type-file where the option
 * stands). Zero-initialize; free with qk_rules_free. */
typedef struct qk_rule_list {
    qk_mix_rule *v;
    size_t n, cap;
} qk_rule_list;

/* Parse and compile one rule "REGEX=TYPE" and append it. origin names where it came from in
 * error messages and the log ("--tensor-type", "rules.txt:3"). Returns 0, or -1 with err
 * set to one line "ORIGIN: 'TEXT': what is wrong — what to do". */
int qk_rules_add(qk_rule_list *L, const char *text, const char *origin, qk_err *err);

/* Append the rules of a rules file (format above). Returns 0, or -1 with err naming the
 * file (cannot open or read it) or FILE:LINE and the bad rule. On error the rules of the
 * file read so far stay in L (the caller frees L anyway). */
int qk_rules_add_file(qk_rule_list *L, const char *path, qk_err *err);

/* Free every rule (its texts and compiled pattern) and the array; L is left empty. */
void qk_rules_free(qk_rule_list *L);

#endif
