package pipeline

// ExpandFiles expands one pattern of a file:"true" option as validation does: the files it names, or the
// problem validation reports for it under the option's key ("" when there is none). A kind's Validate
// uses it to read the files an option names, leaving a pattern with a problem to that report.
func ExpandFiles(cfg *Config, pattern string) (files []string, problem string) {
	return expandFiles(cfg, pattern)
}
