# codeterm's shell integration for zsh: the semantic prompt marks, OSC 133
# A/B/C/D and OSC 633 E (command line) and P (directory). Sourced by the
# .zshrc of codeterm's ZDOTDIR after the user's own .zshrc.
if [[ -o interactive && -z ${__ct_installed-} && $PS1 != *'133;'* ]] && (( ! ${+functions[__vsc_precmd]} )); then
	typeset -g __ct_installed=1 __ct_ran= __ct_hist=

	__ct_esc() {
		local s=$1
		s=${s//\\/\\\\}
		s=${s//;/\\x3b}
		s=${s//$'\n'/\\x0a}
		s=${s//$'\r'/\\x0d}
		s=${s//$'\a'/\\x07}
		s=${s//$'\e'/\\x1b}
		REPLY=$s
	}

	__ct_precmd() {
		local ret=$?
		if [[ -n $__ct_ran ]]; then
			printf '\e]133;D;%s\a' "$ret"
		elif [[ -n $__ct_hist && $HISTCMD != $__ct_hist ]]; then
			# A line went into the history and nothing ran: zsh could not
			# parse it. Report it as a command that failed at once.
			__ct_esc "$(fc -ln -1)"
			printf '\e]633;E;%s\a\e]133;C\a\e]133;D;%s\a' "$REPLY" "$ret"
		fi
		__ct_ran= __ct_hist=$HISTCMD
		__ct_esc "$PWD"
		printf '\e]633;P;Cwd=%s\a\e]133;A\a' "$REPLY"
		# Themes set PS1 anew: mark the end of whatever it is.
		[[ $PS1 == *$'\e]133;B\a'* ]] || PS1="$PS1%{"$'\e]133;B\a'"%}"
		return $ret
	}

	__ct_preexec() {
		__ct_esc "$1"
		printf '\e]633;E;%s\a\e]133;C\a' "$REPLY"
		__ct_ran=1
	}

	# First, so that it sees the command's status.
	precmd_functions=(__ct_precmd $precmd_functions)
	preexec_functions+=(__ct_preexec)
fi
