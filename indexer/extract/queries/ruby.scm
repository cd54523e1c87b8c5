; Definitions, bases, call sites and imports for Ruby, read by indexer/extract/tagged.py (capture names there).
; Modules are types: their functions are called as `Module.function`, as a class's methods are. The methods
; of `class << self` are the enclosing class's. A signature ends with the parameters (or the name, or the
; superclass), not at the body: a comment often stands between them.

(class name: (_) @name @signature.end superclass: (_)? @signature.end) @definition.type
(module name: (_) @name @signature.end) @definition.type
(singleton_class value: [(constant) (scope_resolution)] @name) @definition.impl
(method name: (_) @name @signature.end parameters: (_)? @signature.end) @definition.callable
(singleton_method object: (self) name: (_) @name @signature.end parameters: (_)? @signature.end) @definition.callable
(singleton_method object: [(constant) (scope_resolution)] @owner name: (_) @name @signature.end
  parameters: (_)? @signature.end) @definition.callable

(class superclass: (superclass (_) @base)) @bases

(call receiver: (_) @call.receiver method: (_) @call.name) @call
(call !receiver method: (_) @call.name) @call

(call
  method: (identifier) @_require (#match? @_require "^(require|require_relative|load)$")
  arguments: (argument_list . (string (string_content) @import.module))) @import
