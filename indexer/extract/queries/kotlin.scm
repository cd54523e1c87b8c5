; Definitions, bases, call sites and imports for Kotlin, read by indexer/extract/tagged.py (capture names there).
; Interfaces are class_declarations too; `object` and `companion object` are types whose functions are methods.

(class_declaration name: (_) @name [(class_body) (enum_class_body)]? @body) @definition.type
(object_declaration name: (_) @name (class_body)? @body) @definition.type
(companion_object name: (_) @name (class_body)? @body) @definition.type
(function_declaration name: (_) @name (function_body)? @body) @definition.callable

(class_declaration (delegation_specifiers (delegation_specifier [
  (user_type) @base
  (constructor_invocation (user_type) @base)
]))) @bases

(call_expression . (_) @callee) @call

(import (qualified_identifier) @import.module (identifier)? @import.alias) @import
