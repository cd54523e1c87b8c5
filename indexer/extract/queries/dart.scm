; Definitions, bases, call sites and imports for Dart, read by indexer/extract/tagged.py (capture names there).
; A method's or function's body is the sibling after its signature (@body there extends the symbol's span).
; Constructors are no symbols: `Greeter('x')` names the class. A call is a selector holding arguments; its
; callee is the run of siblings before it (@call.after): `greeter` `.greet` `('world')`.

(class_definition name: (identifier) @name body: (_) @body) @definition.type
(mixin_declaration (identifier) @name (class_body) @body) @definition.type
(enum_declaration name: (identifier) @name body: (_) @body) @definition.type
(class_body (method_signature [
  (function_signature name: (identifier) @name)
  (getter_signature name: (identifier) @name)
  (setter_signature name: (identifier) @name)
]) @definition.callable . (function_body) @body)
(program (function_signature name: (identifier) @name) @definition.callable . (function_body) @body)
(program (getter_signature name: (identifier) @name) @definition.callable . (function_body) @body)

(class_definition superclass: (superclass (type_identifier) @base)) @bases
(class_definition superclass: (superclass (mixins (type_identifier) @base))) @bases
(class_definition interfaces: (interfaces (type_identifier) @base)) @bases

(selector (argument_part)) @call.after
(new_expression (type_identifier) @callee) @call
(const_object_expression (type_identifier) @callee) @call

(library_import (import_specification (configurable_uri (uri (string_literal) @import.module)))) @import
(library_import (import_specification
  (configurable_uri (uri (string_literal) @import.module)) (identifier) @import.alias)) @import
