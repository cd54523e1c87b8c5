; Functions, commands and sourced files for Bash, read by indexer/extract/tagged.py (capture names there).
; Every command is a call: a function of the repository where one has its name, a program otherwise.

(function_definition name: (word) @name body: (_) @body) @definition.callable

(command name: (command_name (word) @call.name)) @call

(command name: (command_name (word) @_source (#match? @_source "^(source|\\.)$"))
  . argument: [(word) @import.module (raw_string) @import.module (string . (string_content) @import.module .)]) @import
