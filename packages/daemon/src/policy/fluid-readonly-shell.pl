#!/usr/bin/perl
# fluid-readonly-shell: the login shell of fluid's read-only user on a source VM (layer 2 of the read-only
# command policy; layer 1 is the daemon). sshd runs it as `fluid-readonly-shell -c '<command>'`.
#
# It parses the command as shell syntax (a strict subset: words, quotes, escapes, | && || ;), checks every
# command against the allowlist, and runs the pipelines itself with fork/exec and pipes: no shell ever sees
# the command. Refusals go to stderr as `refused: <reason>` with exit status 126.
#
# The policy tables below are generated from packages/daemon/src/policy/rules.ts; the code mirrors
# parse.ts, check.ts, paths.ts and scripts.ts step by step, and a shared table test runs every case through
# both layers. Perl 5 with core modules from perl-base only (it is Essential on Debian and Ubuntu).
#
# Modes (argv only; sshd always passes -c, so a remote user cannot reach --check):
#   fluid-readonly-shell -c COMMAND          check, then run (COMMAND may also come from SSH_ORIGINAL_COMMAND)
#   fluid-readonly-shell --check -c COMMAND  print `allowed` or `refused: <reason>`, run nothing
#   fluid-readonly-shell --check-batch       the same for many commands on stdin, each framed as
#                                            "<byte length>\n<bytes>"; one answer line per command
use strict;
use warnings;
use POSIX ();

our $POLICY;
# @@FLUID_POLICY_DATA@@

sub refuse { die { refusal => $_[0] } }

# A word for a refusal reason: printable ASCII as is, other bytes as \xNN, cut at 64 characters.
sub show {
    my ($word) = @_;
    my $out = '';
    for my $byte (unpack 'C*', $word) {
        $out .= ($byte >= 0x21 && $byte <= 0x7e) ? chr($byte) : sprintf('\\x%02x', $byte);
    }
    return "''" if $out eq '';
    return length($out) > 64 ? substr($out, 0, 61) . '...' : $out;
}

my %regex_cache;
sub matches {
    my ($pattern, $value) = @_;
    my $re = $regex_cache{$pattern} //= qr/$pattern/;
    return $value =~ $re;
}

sub char_at {
    my ($s, $i) = @_;
    return ($i >= 0 && $i < length $s) ? substr($s, $i, 1) : '';
}

# ---------------------------------------------------------------------------------------------- parser

sub parse_command {
    my ($s) = @_;
    my $limits = $POLICY->{limits};
    refuse("the command is longer than $limits->{maxCommandBytes} bytes") if length($s) > $limits->{maxCommandBytes};
    refuse('NUL bytes are not allowed') if index($s, "\0") >= 0;
    refuse('newlines are not allowed: send one command line') if $s =~ /[\n\r]/;
    refuse('control characters are not allowed') if $s =~ /[\x01-\x08\x0b\x0c\x0e-\x1f\x7f]/;

    my @pipelines;
    my @commands;
    my $argv;
    my $connector;
    my $last_operator = '';
    my $count = 0;

    my $end_command = sub {
        my ($operator) = @_;
        refuse("syntax error: '$operator' needs a command before it") unless defined $argv;
        $count++;
        refuse("too many commands (at most $limits->{maxCommands})") if $count > $limits->{maxCommands};
        push @commands, $argv;
        undef $argv;
        $last_operator = $operator;
    };
    my $end_pipeline = sub {
        my ($operator) = @_;
        $end_command->($operator);
        push @pipelines, { connector => $connector, commands => [@commands] };
        $connector = $operator;
        @commands = ();
    };

    my $i = 0;
    while ($i < length $s) {
        my $c = char_at($s, $i);
        my $next = char_at($s, $i + 1);
        if ($c eq ' ' || $c eq "\t") {
            $i++;
        } elsif ($c eq '|') {
            if ($next eq '|') {
                $end_pipeline->('||');
                $i += 2;
            } elsif ($next eq '&') {
                refuse("'|&' is not allowed (it redirects standard error)");
            } else {
                $end_command->('|');
                $i++;
            }
        } elsif ($c eq '&') {
            if ($next eq '&') {
                $end_pipeline->('&&');
                $i += 2;
            } elsif ($next eq '>') {
                refuse('output redirection is not allowed');
            } else {
                refuse('background jobs (&) are not allowed');
            }
        } elsif ($c eq ';') {
            refuse("';;' is not allowed") if $next eq ';';
            $end_pipeline->(';');
            $i++;
        } elsif ($c eq '>') {
            refuse($next eq '(' ? 'process substitution is not allowed' : 'output redirection is not allowed');
        } elsif ($c eq '<') {
            refuse('process substitution is not allowed') if $next eq '(';
            refuse('here-documents and here-strings are not allowed') if $next eq '<';
            refuse('input redirection is not allowed');
        } elsif ($c eq '(' || $c eq ')') {
            refuse('subshells and parentheses are not allowed');
        } else {
            my $start = $i;
            my ($word, $end) = read_word($s, $i);
            if (!defined $argv) {
                refuse('environment assignments (NAME=value) are not allowed')
                    if substr($s, $start, $end - $start) =~ /^[A-Za-z_][A-Za-z0-9_]*=/;
                $argv = [];
            }
            push @$argv, $word;
            $i = $end;
        }
    }
    if (!defined $argv) {
        refuse('the command is empty') if $count == 0;
        refuse("syntax error: the command ends with '$last_operator'");
    }
    $end_command->('end');
    push @pipelines, { connector => $connector, commands => [@commands] };
    return \@pipelines;
}

sub read_word {
    my ($s, $i) = @_;
    my $n = length $s;
    my $start = $i;
    my $value = '';
    while ($i < $n) {
        my $c = char_at($s, $i);
        last if index(" \t|&;<>()", $c) >= 0;
        if ($c eq "'") {
            my $close = index($s, "'", $i + 1);
            refuse('unterminated single quote') if $close < 0;
            $value .= substr($s, $i + 1, $close - $i - 1);
            $i = $close + 1;
        } elsif ($c eq '"') {
            $i++;
            while (1) {
                refuse('unterminated double quote') if $i >= $n;
                my $d = char_at($s, $i);
                if ($d eq '"') {
                    $i++;
                    last;
                }
                if ($d eq "\\") {
                    my $e = char_at($s, $i + 1);
                    refuse('unterminated double quote') if $e eq '';
                    if (index('$`"\\', $e) >= 0) {
                        $value .= $e;
                        $i += 2;
                    } else {
                        $value .= $d;
                        $i++;
                    }
                } elsif ($d eq '`') {
                    refuse("command substitution (`\xe2\x80\xa6`) is not allowed");
                } elsif ($d eq '$') {
                    check_dollar($s, $i, 1);
                    $value .= $d;
                    $i++;
                } else {
                    $value .= $d;
                    $i++;
                }
            }
        } elsif ($c eq "\\") {
            refuse('a trailing backslash is not allowed') if $i + 1 >= $n;
            $value .= char_at($s, $i + 1);
            $i += 2;
        } elsif ($c eq '`') {
            refuse("command substitution (`\xe2\x80\xa6`) is not allowed");
        } elsif ($c eq '$') {
            check_dollar($s, $i, 0);
            $value .= $c;
            $i++;
        } elsif ($c eq '*' || $c eq '?' || $c eq '[') {
            refuse('unquoted glob characters (* ? [) are not allowed: no shell expands them here, quote them');
        } elsif ($c eq '{' || $c eq '}') {
            refuse('unquoted braces ({ }) are not allowed: no brace expansion or command groups, quote them');
        } elsif ($c eq '~') {
            refuse('an unquoted ~ is not allowed: no tilde expansion, write the full path');
        } elsif ($c eq '#' && $i == $start) {
            refuse('comments (#) are not allowed');
        } else {
            $value .= $c;
            $i++;
        }
    }
    return ($value, $i);
}

sub check_dollar {
    my ($s, $i, $quoted) = @_;
    my $next = char_at($s, $i + 1);
    if ($next eq '(') {
        refuse(char_at($s, $i + 2) eq '('
            ? "arithmetic expansion \$((\xe2\x80\xa6)) is not allowed"
            : "command substitution \$(\xe2\x80\xa6) is not allowed");
    }
    refuse("arithmetic expansion \$[\xe2\x80\xa6] is not allowed") if $next eq '[';
    refuse('parameter expansion ($NAME, ${' . "\xe2\x80\xa6" . '}) is not allowed: the command runs without a shell')
        if $next ne '' && ($next =~ /^[A-Za-z0-9_]$/ || index('{@*#?$!-', $next) >= 0);
    refuse("\$'\xe2\x80\xa6' quoting is not allowed") if !$quoted && $next eq "'";
    refuse("\$\"\xe2\x80\xa6\" quoting is not allowed") if !$quoted && $next eq '"';
}

# ------------------------------------------------------------------------------------------------ paths

sub check_path_candidate {
    my ($candidate) = @_;
    return undef if index($candidate, '/') < 0;
    my @segments = split m{/}, $candidate, -1;
    return "'..' is not allowed in paths (" . show($candidate) . ')' if grep { $_ eq '..' } @segments;
    my $path = '/' . join('/', grep { $_ ne '' && $_ ne '.' } @segments);
    for my $rule (@{ $POLICY->{paths} }) {
        my $re = $regex_cache{"path:$rule->{regex}"} //= qr/$rule->{regex}/s;
        next unless $path =~ $re;
        return undef unless defined $rule->{reason};
        return show($path) . " is not readable: $rule->{reason}";
    }
    return undef;
}

sub check_argument_paths {
    my ($arg) = @_;
    if ($arg =~ /^-[A-Za-z0-9]{17}/ && index($arg, '/') >= 0) {
        return 'option clusters longer than 16 letters are not allowed before a path (' . show($arg) . ')';
    }
    for my $candidate (path_candidates($arg)) {
        my $reason = check_path_candidate($candidate);
        return $reason if defined $reason;
    }
    return undef;
}

sub path_candidates {
    my ($arg) = @_;
    my @candidates = ($arg);
    my $eq = index($arg, '=');
    push @candidates, substr($arg, $eq + 1) if $eq >= 0;
    if (substr($arg, 0, 1) eq '-' && substr($arg, 0, 2) ne '--') {
        for (my $k = 2; $k < length($arg) && $k <= 17; $k++) {
            last unless substr($arg, $k - 1, 1) =~ /^[A-Za-z0-9]$/;
            push @candidates, substr($arg, $k);
        }
    }
    return @candidates;
}

# ---------------------------------------------------------------------------------------------- scripts

my @AWK_WORDS = (
    [system   => 'awk system() runs commands'],
    [getline  => 'awk getline can read from commands and files'],
    [close    => 'awk close() is only useful with pipes and redirections'],
    [fflush   => 'awk fflush() is only useful with pipes and redirections'],
    [ENVIRON  => 'awk ENVIRON is not allowed'],
    [PROCINFO => 'awk PROCINFO is not allowed'],
    [ARGV     => 'awk ARGV changes which files are read, past the path policy'],
    [ARGC     => 'awk ARGC changes which files are read, past the path policy'],
    [SYMTAB   => 'gawk SYMTAB reaches every variable by name (ARGV, ENVIRON)'],
    [FUNCTAB  => 'gawk FUNCTAB reaches every function by name'],
);

sub check_awk_program {
    my ($program) = @_;
    for my $entry (@AWK_WORDS) {
        my ($word, $reason) = @$entry;
        return $reason if $program =~ /(^|[^A-Za-z0-9_])\Q$word\E([^A-Za-z0-9_]|$)/;
    }
    return 'awk pipes (|) run commands' if index($program, '|') >= 0;
    return 'awk output redirection (>) writes files; write comparisons with <' if index($program, '>') >= 0;
    return 'gawk @-directives (@load, @include) are not allowed' if index($program, '@') >= 0;
    return undef;
}

sub check_sed_script {
    my ($script) = @_;
    my $n = length $script;
    my $i = 0;
    my $failure;
    my $at = sub { char_at($script, $_[0]) };
    my $fail = sub { $failure = $_[0]; return 0 };
    my $spaces = sub { $i++ while $at->($i) eq ' ' || $at->($i) eq "\t" };
    my $digits = sub {
        my $start = $i;
        $i++ while $i < $n && $at->($i) =~ /^[0-9]$/;
        return $i > $start;
    };
    my $delimited = sub {
        my ($delimiter) = @_;
        while ($i < $n) {
            my $c = $at->($i);
            if ($c eq $delimiter) {
                $i++;
                return 1;
            }
            $i += $c eq "\\" ? 2 : 1;
        }
        return $fail->('unterminated sed regular expression or replacement');
    };
    # 1: an address, 0: failure, undef: no address here
    my $address = sub {
        my $c = $at->($i);
        if ($c =~ /^[0-9]$/) {
            $digits->();
            if ($at->($i) eq '~') {
                $i++;
                return $fail->('sed address first~step needs a step') unless $digits->();
            }
            return 1;
        }
        if ($c eq '$') {
            $i++;
            return 1;
        }
        if ($c eq '/' || $c eq "\\") {
            my $delimiter = '/';
            if ($c eq "\\") {
                $delimiter = $at->($i + 1);
                return $fail->('unterminated sed address') if $delimiter eq '';
                return $fail->('sed delimiters must be ASCII characters') if ord($delimiter) > 0x7f;
                $i++;
            }
            $i++;
            return 0 unless $delimited->($delimiter);
            $i++ while $at->($i) eq 'I' || $at->($i) eq 'M';
            return 1;
        }
        return undef;
    };
    my $after_command = sub {
        my ($command) = @_;
        $spaces->();
        return 1 if $i >= $n || $at->($i) eq ';' || $at->($i) eq '}';
        return $fail->("unexpected text after sed command '$command'");
    };

    my $command = sub {
        my $first = $address->();
        return 0 if defined $first && !$first;
        if (defined $first) {
            $spaces->();
            if ($at->($i) eq ',') {
                $i++;
                $spaces->();
                if ($at->($i) eq '+' || $at->($i) eq '~') {
                    $i++;
                    return $fail->('sed address +N/~N needs a number') unless $digits->();
                } else {
                    my $second = $address->();
                    return 0 if defined $second && !$second;
                    return $fail->('sed address range without an end') unless defined $second;
                }
            }
        }
        $spaces->();
        while ($at->($i) eq '!') {
            $i++;
            $spaces->();
        }
        return $fail->('sed address without a command') if $i >= $n;
        my $c = $at->($i);
        $i++;
        return 1 if $c eq '{' || $c eq '}';
        return $after_command->($c) if index('=dDgGhHnNpPxzF', $c) >= 0;
        if (index('lLqQ', $c) >= 0) {
            $spaces->();
            $digits->();
            return $after_command->($c);
        }
        if (index('btT:', $c) >= 0) {
            $spaces->();
            my $start = $i;
            $i++ while $i < $n && $at->($i) =~ /^[A-Za-z0-9_]$/;
            return $fail->("sed label ':' needs a name") if $c eq ':' && $i == $start;
            return $after_command->($c);
        }
        if ($c eq 'a' || $c eq 'i' || $c eq 'c') {
            $i = $n;
            return 1;
        }
        if ($c eq 's' || $c eq 'y') {
            my $delimiter = $at->($i);
            return $fail->("sed $c command needs a delimiter") if $delimiter eq '' || $delimiter eq "\\";
            return $fail->('sed delimiters must be ASCII characters') if ord($delimiter) > 0x7f;
            $i++;
            return 0 unless $delimited->($delimiter) && $delimited->($delimiter);
            if ($c eq 's') {
                while (1) {
                    my $flag = $at->($i);
                    return $fail->('sed s///e runs the pattern space as a command') if $flag eq 'e';
                    return $fail->('sed s///w writes a file') if $flag eq 'w';
                    last unless $flag ne '' && index('gpiImM0123456789', $flag) >= 0;
                    $i++;
                }
            }
            return $after_command->($c);
        }
        return $fail->('sed e runs commands') if $c eq 'e';
        return $fail->("sed $c reads files the path policy cannot check") if $c eq 'r' || $c eq 'R';
        return $fail->("sed $c writes files") if $c eq 'w' || $c eq 'W';
        return $fail->('sed comments are not allowed') if $c eq '#';
        return $fail->($c =~ /^[!-~]$/ ? "unsupported sed command '$c'" : 'unsupported sed command');
    };

    while (1) {
        $i++ while $i < $n && ($at->($i) eq ' ' || $at->($i) eq "\t" || $at->($i) eq ';');
        return undef if $i >= $n;
        return $failure unless $command->();
    }
}

# ----------------------------------------------------------------------------------------------- policy

sub check_argv {
    my ($argv) = @_;
    my $word = $argv->[0];
    my $name = $word;
    if (index($word, '/') >= 0) {
        my $pattern = $POLICY->{programPathPattern};
        return 'program paths other than /bin, /sbin, /usr/bin and /usr/sbin are not allowed (' . show($word) . ')'
            unless $word =~ /$pattern/;
        $name = $2;
    }
    my $rule = $POLICY->{programs}{$name};
    if (!defined $rule) {
        my $hint = $POLICY->{hints}{$name};
        return show($name) . ' is not on the read-only allowlist' . (defined $hint ? " ($hint)" : '');
    }
    my @args = @$argv[1 .. $#$argv];
    return check_arguments($name, $rule, \@args);
}

sub contains {
    my ($list, $value) = @_;
    return 0 unless defined $list;
    return scalar grep { $_ eq $value } @$list;
}

sub check_option {
    my ($program, $rule, $option, $long, $arg) = @_;
    my $denied = $rule->{denied} // {};
    return $denied->{$option} if exists $denied->{$option};
    my $known = contains($rule->{allowed}, $option) || contains($rule->{valueLong}, $option);
    if ($long && length($option) > 2 && !$known) {
        for my $name (sort keys %$denied) {
            return $denied->{$name} if substr($name, 0, 2) eq '--' && index($name, $option) == 0;
        }
    }
    if (defined $rule->{allowed} && !contains($rule->{allowed}, $option)) {
        my $shown = ($long || $option =~ /^-[!-~]$/) ? $option : $arg;
        return "$program option " . show($shown) . ' is not allowed';
    }
    return undef;
}

sub check_arguments {
    my ($program, $rule, $args) = @_;
    my @args = @$args;
    return $rule->{maxArgs}{reason} if defined $rule->{maxArgs} && @args > $rule->{maxArgs}{count};
    if (defined $rule->{firstArg}) {
        return $rule->{firstArg}{reason} if !@args || !matches($rule->{firstArg}{pattern}, $args[0]);
    }
    if (defined $rule->{deniedWords}) {
        for my $arg (@args) {
            return $rule->{deniedWords}{$arg} if exists $rule->{deniedWords}{$arg};
        }
    }

    my @options;     # [name, value, value index]
    my @operands;    # [value, index]
    my $value_short = $rule->{valueShort} // '';
    my $optional_short = $rule->{optionalShort} // '';
    my $end_of_options = $rule->{syntax} eq 'none';
    for (my $i = 0; $i < @args; $i++) {
        my $arg = $args[$i];
        if ($end_of_options || $arg eq '-' || substr($arg, 0, 1) ne '-') {
            push @operands, [$arg, $i];
            $end_of_options = 1 if $rule->{optionsFirst};
            next;
        }
        if ($arg eq '--') {
            $end_of_options = 1;
            next;
        }
        if ($rule->{syntax} eq 'words' || substr($arg, 0, 2) eq '--') {
            my $eq = $rule->{syntax} eq 'words' ? -1 : index($arg, '=');
            my $option = $eq >= 0 ? substr($arg, 0, $eq) : $arg;
            my $refusal = check_option($program, $rule, $option, 1, $arg);
            return $refusal if defined $refusal;
            if ($eq >= 0) {
                push @options, [$option, substr($arg, $eq + 1), $i];
            } elsif (contains($rule->{valueLong}, $option)) {
                $i++;
                push @options, [$option, $args[$i], $i];
            } else {
                push @options, [$option, undef, -1];
            }
            next;
        }
        for (my $j = 1; $j < length $arg; $j++) {
            my $letter = substr($arg, $j, 1);
            my $option = "-$letter";
            my $refusal = check_option($program, $rule, $option, 0, $arg);
            return $refusal if defined $refusal;
            if (index($value_short, $letter) >= 0) {
                if ($j + 1 < length $arg) {
                    push @options, [$option, substr($arg, $j + 1), $i];
                } else {
                    $i++;
                    push @options, [$option, $args[$i], $i];
                }
                last;
            }
            if (index($optional_short, $letter) >= 0) {
                push @options, [$option, ($j + 1 < length $arg) ? substr($arg, $j + 1) : undef, $i];
                last;
            }
            push @options, [$option, undef, -1];
        }
    }

    my $value_rules = $rule->{valueRules} // {};
    for my $option (@options) {
        next unless exists $value_rules->{ $option->[0] };
        my $value_rule = $value_rules->{ $option->[0] };
        return $value_rule->{reason} if !defined $option->[1] || !matches($value_rule->{pattern}, $option->[1]);
    }
    for my $required (@{ $rule->{required} // [] }) {
        return $required->{reason} unless grep { contains($required->{options}, $_->[0]) } @options;
    }
    return $rule->{maxOperands}{reason} if defined $rule->{maxOperands} && @operands > $rule->{maxOperands}{count};
    if (defined $rule->{operandPattern}) {
        for my $operand (@operands) {
            return $rule->{operandPattern}{reason} unless matches($rule->{operandPattern}{pattern}, $operand->[0]);
        }
    }
    if (defined $rule->{subcommands} && @operands) {
        my $sub = $operands[0][0];
        if (!exists $rule->{subcommands}{$sub}) {
            return "$program " . show($sub) . ' is not allowed (allowed: '
                . join(', ', sort keys %{ $rule->{subcommands} }) . ')';
        }
        my $verbs = $rule->{subcommands}{$sub};
        if (defined $verbs && @operands > 1 && !contains($verbs, $operands[1][0])) {
            return "$program $sub " . show($operands[1][0]) . ' is not allowed (allowed: ' . join(', ', @$verbs) . ')';
        }
    }

    my %scripts;
    my $script = $rule->{script} // '';
    if ($script eq 'awk') {
        return 'awk needs a program text (awk -f is not allowed)' unless @operands;
        $scripts{ $operands[0][1] } = 1;
        my $reason = check_awk_program($operands[0][0]);
        return $reason if defined $reason;
    }
    if ($script eq 'sed') {
        my @texts = map { [$_->[1], $_->[2]] } grep { $_->[0] eq '-e' || $_->[0] eq '--expression' } @options;
        if (!@texts) {
            return 'sed needs a script' unless @operands;
            @texts = ($operands[0]);
        }
        for my $text (@texts) {
            return 'sed -e needs a script' unless defined $text->[0];
            $scripts{ $text->[1] } = 1;
            my $reason = check_sed_script($text->[0]);
            return $reason if defined $reason;
        }
    }

    for my $i (0 .. $#args) {
        next if $scripts{$i};
        my $reason = check_argument_paths($args[$i]);
        return $reason if defined $reason;
    }
    return undef;
}

# The decision for a command line: (undef, pipelines) when allowed, (reason) when refused.
sub check_command {
    my ($command) = @_;
    my $pipelines = eval { parse_command($command) };
    if (!defined $pipelines) {
        my $error = $@;
        return (ref $error eq 'HASH' ? $error->{refusal} : "internal error: $error");
    }
    for my $pipeline (@$pipelines) {
        for my $argv (@{ $pipeline->{commands} }) {
            my $reason = check_argv($argv);
            return ($reason) if defined $reason;
        }
    }
    return (undef, $pipelines);
}

# --------------------------------------------------------------------------------------------- execution

# Set in the session leader when its group is being stopped: run no further command.
my $stopping;

# Linux prlimit64(2) by architecture: POSIX has no setrlimit and production VMs have only perl-base.
# Its struct (two u64) is the same everywhere, and so are these resource numbers on these architectures.
my @PRLIMIT64 = ([qr/^x86_64$/ => 302], [qr/^(aarch64|riscv64)$/ => 261], [qr/^i[3-6]86$/ => 340],
    [qr/^arm/ => 369], [qr/^ppc/ => 325], [qr/^s390x$/ => 334]);
my %RLIMIT = (cpuSeconds => 0, fileSizeBytes => 1, processes => 6, addressSpaceBytes => 9);

# Sets this process's resource limits (inherited across exec); dies when the kernel refuses one.
sub apply_limits {
    my ($limits) = @_;
    my $machine = (POSIX::uname())[4];
    my ($entry) = grep { $machine =~ $_->[0] } @PRLIMIT64;
    die "fluid-readonly-shell: cannot set resource limits on $machine\n" unless defined $entry;
    for my $name (sort keys %RLIMIT) {
        my $value = $limits->{$name};
        # a CPU soft limit sends SIGXCPU, the hard one a second later SIGKILL
        my $new = pack 'QQ', $value, $name eq 'cpuSeconds' ? $value + 1 : $value;
        syscall($entry->[1], 0, $RLIMIT{$name}, $new, 0) == 0
            or die "fluid-readonly-shell: cannot limit $name: $!\n";
    }
}

# Runs one pipeline with fork/exec and pipes; returns the exit status of its last command.
sub run_pipeline {
    my ($commands) = @_;
    my @pids;
    my $input;
    for my $index (0 .. $#$commands) {
        my @argv = @{ $commands->[$index] };
        my ($reader, $writer);
        if ($index < $#$commands) {
            pipe($reader, $writer) or die "fluid-readonly-shell: pipe: $!\n";
        }
        my $pid = fork();
        die "fluid-readonly-shell: fork: $!\n" unless defined $pid;
        if ($pid == 0) {
            $SIG{PIPE} = 'DEFAULT';
            if (defined $input) {
                POSIX::dup2(fileno($input), 0) or POSIX::_exit(126);
                close $input;
            }
            if (defined $writer) {
                POSIX::dup2(fileno($writer), 1) or POSIX::_exit(126);
                close $writer;
                close $reader;
            }
            if (!eval { apply_limits($POLICY->{execution}); 1 }) {
                print STDERR $@;
                POSIX::_exit(126);
            }
            { no warnings 'exec'; exec { $argv[0] } @argv; }
            my $error = $!;
            print STDERR "fluid-readonly-shell: $argv[0]: $error\n";
            POSIX::_exit($!{ENOENT} ? 127 : 126);
        }
        close $input if defined $input;
        close $writer if defined $writer;
        $input = $reader;
        push @pids, $pid;
    }
    my $status = 0;
    for my $index (0 .. $#pids) {
        waitpid($pids[$index], 0);
        my $raw = $?;
        next unless $index == $#pids;
        $status = ($raw & 127) ? 128 + ($raw & 127) : $raw >> 8;
    }
    return $status;
}

sub run_pipelines {
    my ($pipelines) = @_;
    my $status = 0;
    for my $pipeline (@$pipelines) {
        last if $stopping;
        my $connector = $pipeline->{connector} // ';';
        next if $connector eq '&&' && $status != 0;
        next if $connector eq '||' && $status == 0;
        $status = run_pipeline($pipeline->{commands});
    }
    return $status;
}

# Writes all of $bytes to a handle; false once nobody reads it any more.
sub write_all {
    my ($handle, $bytes) = @_;
    while (length $bytes) {
        my $written = syswrite($handle, $bytes);
        if (!defined $written) {
            next if $!{EINTR};
            return 0;
        }
        substr($bytes, 0, $written, '');
    }
    return 1;
}

# SIGTERM to the whole group, a grace period, then SIGKILL to whatever is left of it.
sub stop_group {
    my ($pgid, $grace) = @_;
    kill 'TERM', -$pgid;
    kill 'CONT', -$pgid;
    my $until = time + $grace;
    while (time <= $until && kill 0, -$pgid) {
        waitpid($pgid, POSIX::WNOHANG());
        select(undef, undef, undef, 0.05);
    }
    kill 'KILL', -$pgid;
}

# Runs the pipelines in a session of their own and stays with them: it relays their output up to a cap
# and kills the whole session at the deadline, at the cap, or when the SSH connection ends (SIGHUP,
# SIGTERM, a closed stdout or stderr, or sshd gone: nothing would ever collect their output, and
# without this they would run on, reparented to init). Returns the exit status.
sub run_contained {
    my ($pipelines) = @_;
    my $limits = $POLICY->{execution};
    my $sshd = getppid();
    my $signal;
    local @SIG{qw(HUP TERM INT)} = (sub { $signal = $_[0] }) x 3;
    local $SIG{PIPE} = 'IGNORE';
    pipe(my $out_reader, my $out_writer) or die "fluid-readonly-shell: pipe: $!\n";
    pipe(my $err_reader, my $err_writer) or die "fluid-readonly-shell: pipe: $!\n";
    my $pid = fork();
    die "fluid-readonly-shell: fork: $!\n" unless defined $pid;
    if ($pid == 0) {
        $SIG{$_} = 'DEFAULT' for qw(HUP INT PIPE);
        # killed with its group, it starts nothing more but reaps the commands as they die
        $SIG{TERM} = sub { $stopping = 1 };
        POSIX::setsid();
        POSIX::dup2(fileno($out_writer), 1) or POSIX::_exit(126);
        POSIX::dup2(fileno($err_writer), 2) or POSIX::_exit(126);
        close $_ for $out_reader, $out_writer, $err_reader, $err_writer;
        my $status = eval { run_pipelines($pipelines) };
        print STDERR $@ unless defined $status;
        POSIX::_exit($status // 126);
    }
    close $_ for $out_writer, $err_writer;

    my %open = (fileno($out_reader) => [$out_reader, \*STDOUT], fileno($err_reader) => [$err_reader, \*STDERR]);
    my $deadline = time + $limits->{wallSeconds};
    my $relayed = 0;
    my ($stopped, $status);
    until (defined $stopped || (!%open && defined $status)) {
        if (defined $signal || getppid() != $sshd) {
            $stopped = 'hangup';
            last;
        }
        my $left = $deadline - time;
        if ($left <= 0) {
            $stopped = 'deadline';
            last;
        }
        if (!%open) {
            if (waitpid($pid, POSIX::WNOHANG()) == $pid) {
                $status = ($? & 127) ? 128 + ($? & 127) : $? >> 8;
            } else {
                select(undef, undef, undef, 0.1);
            }
            next;
        }
        my $ready = '';
        vec($ready, $_, 1) = 1 for keys %open;
        next if select($ready, undef, undef, $left < 0.5 ? $left : 0.5) <= 0;
        for my $fd (keys %open) {
            next unless vec($ready, $fd, 1);
            my ($reader, $writer) = @{ $open{$fd} };
            my $read = sysread($reader, my $chunk, 65536);
            next if !defined $read && $!{EINTR};
            if (!$read) {
                delete $open{$fd};
                next;
            }
            my $room = $limits->{outputBytes} - $relayed;
            $chunk = substr($chunk, 0, $room) if $read > $room;
            $relayed += length $chunk;
            if (!write_all($writer, $chunk)) {
                $stopped = 'hangup';
            } elsif ($read > $room) {
                $stopped = 'output';
            }
        }
    }
    stop_group($pid, $limits->{killGraceSeconds}) if defined $stopped;
    # the group is killed even after a normal end: nothing the command started outlives it
    kill 'KILL', -$pid;
    waitpid($pid, 0) unless defined $status;
    return 129 if $stopped && $stopped eq 'hangup';
    if (($stopped // '') eq 'deadline') {
        print STDERR "fluid-readonly-shell: stopped: the command ran longer than $limits->{wallSeconds} seconds\n";
        return 124;
    }
    if (($stopped // '') eq 'output') {
        print STDERR "fluid-readonly-shell: stopped: the command printed more than $limits->{outputBytes} bytes\n";
        return 125;
    }
    return $status;
}

sub prepare_environment {
    my $home = (getpwuid($<))[7];
    $home = '/' unless defined $home && $home ne '';
    %ENV = (%{ $POLICY->{environment} }, HOME => $home);
    chdir '/' or die "fluid-readonly-shell: chdir /: $!\n";
}

# -------------------------------------------------------------------------------------------------- main

sub answer {
    my ($reason) = @_;
    return defined $reason ? "refused: $reason" : 'allowed';
}

sub check_batch {
    binmode STDIN;
    binmode STDOUT;
    local $/ = "\n";
    while (defined(my $header = <STDIN>)) {
        chomp $header;
        die "fluid-readonly-shell: bad --check-batch frame\n" unless $header =~ /^[0-9]+$/;
        my $command = '';
        while (length($command) < $header) {
            my $read = read(STDIN, $command, $header - length($command), length($command));
            die "fluid-readonly-shell: truncated --check-batch frame\n" unless $read;
        }
        my ($reason) = check_command($command);
        print answer($reason), "\n";
    }
    return 0;
}

sub main {
    my @args = @_;
    die "fluid-readonly-shell: the policy data is missing (install the generated script)\n" unless defined $POLICY;
    binmode STDOUT;
    binmode STDERR;
    return check_batch() if @args == 1 && $args[0] eq '--check-batch';
    my $check = 0;
    if (@args && $args[0] eq '--check') {
        $check = 1;
        shift @args;
    }
    my $command;
    if (!$check && defined $ENV{SSH_ORIGINAL_COMMAND} && $ENV{SSH_ORIGINAL_COMMAND} ne '') {
        $command = $ENV{SSH_ORIGINAL_COMMAND};
    } elsif (@args >= 2 && $args[0] eq '-c') {
        $command = $args[1];
        # sshd's ForceCommand runs `<shell> -c <this script>` and passes the client's command, if any, in
        # SSH_ORIGINAL_COMMAND: without one, this is an interactive login
        undef $command if !$check && ($command eq $0 || $command =~ m{(^|/)fluid-readonly-shell$});
    }
    if (!defined $command) {
        print STDERR "interactive login is not permitted\n";
        return 1;
    }
    my ($reason, $pipelines) = check_command($command);
    if ($check) {
        print answer($reason), "\n";
        return defined $reason ? 126 : 0;
    }
    if (defined $reason) {
        print STDERR "refused: $reason\n";
        return 126;
    }
    prepare_environment();
    return run_contained($pipelines);
}

exit main(@ARGV);
