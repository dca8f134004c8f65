## ordinal::clmm fits of wine with the probit link (the shared references have the logit
## link only), as references for the laplace backend's ordinal family (tests/test_engine.py).
##
## Run: Rscript tests/reference/clmm_probit.R   (writes clmm_probit.json next to it)

suppressPackageStartupMessages({
  library(ordinal)
  library(jsonlite)
})
args <- commandArgs(trailingOnly = FALSE)
script <- sub("--file=", "", args[grep("--file=", args)])
out_file <- file.path(dirname(normalizePath(script)), "clmm_probit.json")

fm <- clmm(rating ~ temp + contact + (1 | judge), data = wine, link = "probit")
s <- summary(fm)$coefficients
out <- list(
  wine_clmm_probit = list(
    formula = "rating ~ temp + contact + (1 | judge)",
    link = "probit",
    call = deparse(fm$call),
    thresholds = unname(fm$alpha),
    threshold_names = names(fm$alpha),
    threshold_std_error = unname(s[names(fm$alpha), "Std. Error"]),
    fixef_names = names(fm$beta),
    fixef = unname(fm$beta),
    std_error = unname(s[names(fm$beta), "Std. Error"]),
    sd = unname(sqrt(as.numeric(VarCorr(fm)$judge))),
    logLik = as.numeric(logLik(fm)),
    max_grad = max(abs(fm$gradient)),
    ordinal = as.character(packageVersion("ordinal"))
  )
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), out_file)
