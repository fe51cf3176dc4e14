# Reference outputs of COINr itself for the index's treatment, normalisation and aggregation rules.
#
# Runs COINr's Treat (default: winsorise, at most `winmax` points, then log_CT), Normalise (min-max to
# 0-100) and Aggregate (arithmetic mean, weights re-scaled over the values present) on the fixed inputs
# beside this script, once with COINr's defaults (winmax = 5) and once with winmax = 2 (so that the log
# is reached and a step of tied points passes the cap on 40 units), and writes every intermediate to
# outputs/ at full precision. tests/method/test_against_coinr.py compares our functions with them.
#
#   Rscript tests/method/coinr/make_reference.R        (from the repository root; see README.md)

suppressPackageStartupMessages(library(COINr))

here <- local({
  arg <- grep("^--file=", commandArgs(trailingOnly = FALSE), value = TRUE)
  if (length(arg) == 1) dirname(normalizePath(sub("^--file=", "", arg))) else getwd()
})
inputs <- file.path(here, "inputs")
outputs <- file.path(here, "outputs")
dir.create(outputs, showWarnings = FALSE)

iData <- read.csv(file.path(inputs, "indicators.csv"), na.strings = "NA", stringsAsFactors = FALSE)
structure <- read.csv(file.path(inputs, "structure.csv"), na.strings = "", stringsAsFactors = FALSE)
iMeta <- data.frame(
  iCode = structure$iCode,
  Level = as.numeric(structure$Level),
  Parent = ifelse(is.na(structure$Parent), NA_character_, structure$Parent),
  Direction = 1,
  Weight = as.numeric(structure$Weight),
  Type = ifelse(structure$Level == 1, "Indicator", "Aggregate"),
  stringsAsFactors = FALSE
)
indicators <- iMeta$iCode[iMeta$Type == "Indicator"]

# Every number as the 17 significant digits that give back the same double; NA as "NA".
exact <- function(frame) {
  for (name in names(frame)) {
    if (is.numeric(frame[[name]])) {
      frame[[name]] <- ifelse(is.na(frame[[name]]), "NA", sprintf("%.17g", frame[[name]]))
    }
  }
  frame
}
write_exact <- function(frame, name) {
  write.csv(exact(frame), file.path(outputs, name), row.names = FALSE, quote = FALSE)
}

run <- function(label, winmax) {
  coin <- suppressMessages(new_coin(iData, iMeta, quietly = TRUE))
  specs <- list(f1_para = list(winmax = winmax))
  coin <- suppressWarnings(Treat(coin, dset = "Raw", global_specs = specs))
  coin <- suppressWarnings(Normalise(coin, dset = "Treated"))
  coin <- Aggregate(coin, dset = "Normalised")

  write_exact(get_dset(coin, "Treated")[c("uCode", indicators)], paste0("treated_", label, ".csv"))
  write_exact(get_dset(coin, "Normalised")[c("uCode", indicators)], paste0("normalised_", label, ".csv"))
  write_exact(
    get_dset(coin, "Aggregated")[c("uCode", "generate", "interactive", "utilize", "index")],
    paste0("aggregated_", label, ".csv")
  )
  # What was done to each point ("winhi", "winlo", "+log_CT"); an indicator COINr could not check (the
  # constant one: its skewness is NaN) is returned untreated and has no column: written as "".
  points <- coin$Analysis$Treated$Treated_Points
  for (name in setdiff(indicators, names(points))) points[[name]] <- ""
  points$uCode <- iData$uCode
  write.csv(points[c("uCode", indicators)], file.path(outputs, paste0("treated_points_", label, ".csv")),
            row.names = FALSE, quote = FALSE, na = "")
  # One row per indicator: skewness and kurtosis before (check_SkewKurt.Skew0/Kurt0) and after the
  # treatment kept, how many points the winsorising moved (winsorise.nwin, also when the log was then
  # used) and whether the indicator passed the check at each stage (NA: could not be checked).
  details <- coin$Analysis$Treated$Dets_Table
  wanted <- c("iCode", "check_SkewKurt0.Pass", "check_SkewKurt0.Skew", "check_SkewKurt0.Kurt",
              "winsorise.nwin", "check_SkewKurt1.Pass", "check_SkewKurt1.Skew", "check_SkewKurt1.Kurt",
              "check_SkewKurt2.Pass", "check_SkewKurt2.Skew", "check_SkewKurt2.Kurt")
  for (name in setdiff(wanted, names(details))) details[[name]] <- NA
  details <- details[match(indicators, details$iCode), wanted]
  details$iCode <- indicators
  write_exact(details, paste0("treatment_", label, ".csv"))
}

run("winmax5", 5)
run("winmax2", 2)
writeLines(
  c(paste("R", paste(R.version$major, R.version$minor, sep = ".")),
    paste("COINr", as.character(utils::packageVersion("COINr")))),
  file.path(outputs, "versions.txt")
)
