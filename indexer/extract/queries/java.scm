; Definitions, call sites and imports for Java.
; Capture names are read by indexer/extract/generic.py: @definition, @call, @local, @field, @import.

(class_declaration) @definition
(interface_declaration) @definition
(enum_declaration) @definition
(record_declaration) @definition
(annotation_type_declaration) @definition
(method_declaration) @definition
(constructor_declaration) @definition
(compact_constructor_declaration) @definition

(method_invocation) @call
(object_creation_expression) @call
(explicit_constructor_invocation) @call

(import_declaration) @import

; Local variables whose declaration writes or makes their type: calls on them resolve to its methods.
(local_variable_declaration) @local
(enhanced_for_statement) @local
(lambda_expression) @local

; A class's fields and their types: `this.bell.ring()` and `bell.ring()` resolve to the field type's methods.
(field_declaration) @field
