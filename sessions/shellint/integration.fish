# codeterm's shell integration for fish, run by --init-command after the
# user's configuration: the semantic prompt marks, OSC 133 A/B/C/D and OSC
# 633 E (command line) and P (directory).
if status is-interactive; and not set -q __ct_installed; and not functions -q __vsc_update_cwd
	set -g __ct_installed 1

	function __ct_esc
		string replace -a -- '\\' '\\\\' $argv[1] | string replace -a -- ';' '\\x3b' | string replace -a -- \e '\\x1b' | string replace -a -- \a '\\x07' | string replace -a -- \r '\\x0d' | string join '\\x0a'
	end

	function __ct_preexec --on-event fish_preexec
		printf '\e]633;E;%s\a\e]133;C\a' (__ct_esc $argv[1])
		set -g __ct_ran 1
	end

	function __ct_postexec --on-event fish_postexec
		set -l ret $status
		if set -q __ct_ran
			printf '\e]133;D;%s\a' $ret
			set -e __ct_ran
		end
	end

	function __ct_status
		return $argv[1]
	end

	functions -c fish_prompt __ct_user_prompt
	function fish_prompt
		set -l ret $status
		printf '\e]633;P;Cwd=%s\a\e]133;A\a' (__ct_esc $PWD)
		__ct_status $ret
		__ct_user_prompt
		printf '\e]133;B\a'
	end
end
