// libedit's readline-compatible interface: line editing, history (with its file),
// tab completion and incremental history search (^R). Installed by `libedit-dev`.
//
// Swift 6 cannot touch C global variables (shared mutable state), so the few
// readline globals mops sets or reads are reached through these inline functions.
#include <stdio.h>
#include <string.h>
#include <editline/readline.h>

/// Sets up readline before its first use: mops keeps its own signal handlers, reads
/// keys through `getc_function`, completes words that `word_breaks` delimit, and
/// draws the prompt and the line on standard error when `draw_on_stderr` (standard
/// output is not a terminal).
static inline void mops_rl_configure(int (*getc_function)(FILE *),
                                     rl_completion_func_t *completion,
                                     const char *word_breaks, int draw_on_stderr) {
  rl_readline_name = "mops";
  rl_outstream = draw_on_stderr ? stderr : stdout;
  rl_catch_signals = 0;
  rl_getc_function = getc_function;
  rl_attempted_completion_function = completion;
  rl_basic_word_break_characters = strdup(word_breaks);
  rl_completion_append_character = ' ';
}

/// The line being edited.
static inline const char *mops_rl_line_buffer(void) { return rl_line_buffer; }

/// Tells readline the completion function answered for this word (no file names).
static inline void mops_rl_completion_done(void) { rl_attempted_completion_over = 1; }
