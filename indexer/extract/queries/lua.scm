; Definitions, call sites and imports for Lua, read by indexer/extract/tagged.py (capture names there).
; `function Greeter:greet()` and `function Greeter.new()` are methods of Greeter; `local Greeter = {}` is a
; type only when a function of the file is defined on it (@definition.table), other tables are data.

(function_declaration name: (identifier) @name body: (_)? @body) @definition.callable
(function_declaration name: (dot_index_expression table: (_) @owner field: (identifier) @name)
  body: (_)? @body) @definition.callable
(function_declaration name: (method_index_expression table: (_) @owner method: (identifier) @name)
  body: (_)? @body) @definition.callable

(variable_declaration (assignment_statement
  (variable_list . name: (identifier) @name) (expression_list . value: (table_constructor)))) @definition.table
(chunk (assignment_statement
  (variable_list . name: (identifier) @name) (expression_list . value: (table_constructor))) @definition.table)

(function_call name: (method_index_expression table: (_) @call.receiver method: (_) @call.name)) @call
(function_call name: [(identifier) (dot_index_expression)] @callee) @call

(function_call name: (identifier) @_require (#eq? @_require "require")
  arguments: [(arguments . (string content: (_) @import.module)) (string content: (_) @import.module)]) @import
(assignment_statement (variable_list . name: (identifier) @import.alias)
  (expression_list . value: (function_call name: (identifier) @_require (#eq? @_require "require")
    arguments: [(arguments . (string content: (_) @import.module)) (string content: (_) @import.module)]) @import))
