# bash completion for cuprum(1)                              -*- sh -*-
# SPDX-License-Identifier: MIT
#
# Completes subcommands, each subcommand's options, option values that
# name files or directories, and program names from the active catalogue
# (`cuprum catalogue --names`, honouring --catalogue and --allow already
# on the line). Installed as bash-completion/completions/cuprum.

# The long options of each subcommand (kept equal to `cuprum SUB --help`
# by the ctest docs.completion_options).
_cuprum_opts_run='--catalogue --allow --timeout --grace --cwd --env --unset
 --stdin --foreground --quiet --contain --limit --cgroup-parent --landlock
 --landlock-ro --landlock-rw --landlock-exec --connect --bind --no-new-privs
 --confine-best-effort --time --events --log --xtrace --metrics
 --trace-endpoint --trace-file --trace-args --redact --help --pipe-token
 --wait-all --sigpipe-fails'
_cuprum_opts_parallel='--jobs --keep-order --halt --fail-fast --retries
 --retry-backoff --timeout --deadline --grace --max-output --executor
 --slurm-partition --slurm-time --slurm-opt --slurm-cuprum --results
 --joblog --resume --resume-failed --progress --no-progress --args
 --catalogue --allow --contain --limit --cgroup-parent --landlock
 --landlock-ro --landlock-rw --landlock-exec --connect --bind
 --no-new-privs --confine-best-effort --events --log --xtrace
 --metrics --trace-endpoint --trace-file --trace-args --redact --help'
_cuprum_opts_catalogue='--names --catalogue --allow --help'
_cuprum_opts_doctor='--json --help'
_cuprum_opts_exec_item='--contain --limit --cgroup-parent --landlock
 --landlock-ro --landlock-rw --landlock-exec --connect --bind
 --no-new-privs --confine-best-effort --help'

# Options that take a value in the next word.
_cuprum_valued='--catalogue --allow --timeout --grace --cwd --env --unset
 --stdin --limit --cgroup-parent --landlock-ro --landlock-rw --landlock-exec
 --connect --bind --events --log --metrics --trace-endpoint --trace-file
 --redact --pipe-token --jobs -j --halt --retries --retry-backoff --deadline
 --max-output --executor --slurm-partition --slurm-time --slurm-opt
 --slurm-cuprum --results --joblog --args'

_cuprum_names() {
  # $1: the command as typed; the rest: --catalogue/--allow words to pass.
  local cmd=$1
  shift
  "$cmd" catalogue --names "$@" 2>/dev/null
}

_cuprum() {
  local cur prev words cword
  if declare -F _init_completion >/dev/null 2>&1; then
    _init_completion -n = || return
  else
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD - 1]}
    words=("${COMP_WORDS[@]}")
    cword=$COMP_CWORD
  fi

  local sub='' i w
  local -a catargs=()
  local prog_at=-1 # index of the first word after the options (a program)
  local has_args=0 # parallel --args: a program follows, not a FILE
  for ((i = 1; i < cword; i++)); do
    w=${words[i]}
    if [[ -z $sub ]]; then
      case $w in
        -*) ;;
        *) sub=$w ;;
      esac
      continue
    fi
    case $w in
      --catalogue | --allow)
        catargs+=("$w" "${words[i + 1]}")
        ((i++))
        ;;
      --catalogue=* | --allow=*) catargs+=("$w") ;;
      --args | --args=*)
        has_args=1
        [[ $w == --args ]] && ((i++))
        ;;
      --)
        prog_at=$((i + 1))
        break
        ;;
      -*)
        if [[ " ${_cuprum_valued//$'\n'/ } " == *" $w "* ]]; then
          ((i++))
        fi
        ;;
      *)
        prog_at=$i
        break
        ;;
    esac
  done

  if [[ -z $sub ]]; then
    if [[ $cur == -* ]]; then
      COMPREPLY=($(compgen -W '--help --version' -- "$cur"))
    else
      COMPREPLY=($(compgen -W 'run parallel catalogue exec-item doctor' \
        -- "$cur"))
    fi
    return 0
  fi

  case $prev in
    --catalogue | --stdin | --events | --metrics | --trace-file | --joblog | \
      --args | --slurm-cuprum)
      COMPREPLY=($(compgen -f -- "$cur"))
      return 0
      ;;
    --cwd | --results | --cgroup-parent | --landlock-ro | --landlock-rw | \
      --landlock-exec)
      COMPREPLY=($(compgen -d -- "$cur"))
      return 0
      ;;
    --log)
      COMPREPLY=($(compgen -W 'human logfmt json' -- "$cur"))
      return 0
      ;;
    --executor)
      COMPREPLY=($(compgen -W 'local slurm' -- "$cur"))
      return 0
      ;;
    --allow)
      COMPREPLY=($(compgen -c -- "$cur"))
      return 0
      ;;
  esac

  # run PROGRAM, parallel --args FILE PROGRAM: program names from the
  # active catalogue; the words after the program are its arguments.
  local wants_prog=0
  [[ $sub == run ]] || { [[ $sub == parallel ]] && ((has_args)); } &&
    wants_prog=1
  if ((prog_at >= 0 && prog_at < cword)); then
    COMPREPLY=($(compgen -f -- "$cur"))
    return 0
  fi
  if ((wants_prog)) && { ((prog_at == cword)) || [[ $cur != -* ]]; }; then
    COMPREPLY=($(compgen -W "$(_cuprum_names "${words[0]}" \
      "${catargs[@]}")" -- "$cur"))
    return 0
  fi

  local opts
  case $sub in
    run) opts=$_cuprum_opts_run ;;
    parallel) opts=$_cuprum_opts_parallel ;;
    catalogue) opts=$_cuprum_opts_catalogue ;;
    doctor) opts=$_cuprum_opts_doctor ;;
    exec-item) opts=$_cuprum_opts_exec_item ;;
    *) return 0 ;;
  esac
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
  elif [[ $sub == parallel ]]; then
    COMPREPLY=($(compgen -f -- "$cur"))
  fi
  return 0
}
complete -F _cuprum cuprum
