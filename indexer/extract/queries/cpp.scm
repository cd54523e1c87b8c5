; Definitions, call sites, includes and module-level names for C++.
; Capture names are read by indexer/extract/generic.py: @definition, @call, @import, @module_name.
; A class/struct/union/enum is a definition only with a body; `struct node *p` merely names one.

(class_specifier body: (_)) @definition
(struct_specifier body: (_)) @definition
(union_specifier body: (_)) @definition
(enum_specifier body: (_)) @definition
(namespace_definition) @definition
(function_definition) @definition

(call_expression) @call
(new_expression) @call

(preproc_include) @import

(translation_unit (declaration declarator: (identifier) @module_name))
(translation_unit (declaration declarator: (init_declarator declarator: (identifier) @module_name)))
