// Shell completion for bash and zsh. Both scripts ask `vpr __complete <words so far>` for the
// candidates, which come from the command tree itself, so completion cannot drift from the
// commands: the subcommands of the deepest command named so far, and its options.
import type { Command } from 'commander';

/** The candidates after `words` (the words typed after `vpr`, the last one being completed). */
export function candidates(program: Command, words: readonly string[]): string[] {
  let command = program;
  for (const word of words.slice(0, -1)) {
    const next = command.commands.find((c) => c.name() === word || c.aliases().includes(word));
    if (next !== undefined) command = next;
  }
  const current = words.at(-1) ?? '';
  const options = [...command.options, ...(command === program ? [] : program.options)].flatMap((o) =>
    o.long === undefined ? [] : [o.long],
  );
  const names = command.commands.filter((c) => !c.name().startsWith('__')).map((c) => c.name());
  const all = current.startsWith('-') ? options : [...names, ...(names.length === 0 ? options : [])];
  return all.filter((c) => c.startsWith(current)).sort();
}

export function completionScript(shell: 'bash' | 'zsh'): string {
  if (shell === 'bash') {
    return [
      '# vpr completion for bash: eval "$(vpr completion bash)" or save it under bash-completion/completions/vpr',
      '_vpr() {',
      "  local IFS=$'\\n'",
      '  COMPREPLY=($(vpr __complete "${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null))',
      '  [[ ${#COMPREPLY[@]} -eq 0 ]] && compopt -o default 2>/dev/null',
      '  return 0',
      '}',
      'complete -F _vpr vpr',
      '',
    ].join('\n');
  }
  return [
    '#compdef vpr',
    '# vpr completion for zsh: eval "$(vpr completion zsh)" or save it as _vpr on your $fpath',
    '_vpr() {',
    '  local -a candidates',
    '  candidates=("${(@f)$(vpr __complete "${(@)words[2,CURRENT]}" 2>/dev/null)}")',
    '  if (( ${#candidates[@]} )) && [[ -n "${candidates[1]}" ]]; then',
    '    compadd -a candidates',
    '  else',
    '    _files',
    '  fi',
    '}',
    'if [[ "${zsh_eval_context[-1]}" == loadautofunc ]]; then _vpr "$@"; else compdef _vpr vpr; fi',
    '',
  ].join('\n');
}
