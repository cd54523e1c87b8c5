; Definitions, bases, call sites and imports for Ruby, read by indexer/extract/tagged.py (capture names there).
; Modules are types: their functions are called as `Module.function`, as a class's methods are.

(class name: (_) @name body: (_)? @body) @definition.type
(module name: (_) @name body: (_)? @body) @definition.type
(singleton_class value: (_) @name body: (_)? @body) @definition.impl
(method name: (_) @name body: (_)? @body) @definition.callable
(singleton_method object: (self) name: (_) @name body: (_)? @body) @definition.callable
(singleton_method object: [(constant) (scope_resolution)] @owner name: (_) @name body: (_)? @body) @definition.callable

(class superclass: (superclass (_) @base)) @bases

(call receiver: (_) @call.receiver method: (_) @call.name) @call
(call !receiver method: (_) @call.name) @call

(call
  method: (identifier) @_require (#match? @_require "^(require|require_relative|load)$")
  arguments: (argument_list . (string (string_content) @import.module))) @import
