## glmer fits with PIRLS converged tightly (tolPwrss = 1e-10), as references for the standard
## errors of bayesmix's laplace backend (tests/test_engine.py).
##
## Why: glmer's default tolPwrss = 1e-7 stops PIRLS early enough that its deviance function
## is off the converged Laplace deviance by an erratic 1e-7 ... 1e-3 from point to point
## (cbpp: 5.6e-4 at the optimum), and vcov(), the inverse of the finite-difference Hessian of
## that function, is off by up to 1.1% (cbpp period2: 0.30315 against 0.30664). With
## tolPwrss = 1e-10 the same lme4 code gives the converged Laplace deviance (logLik equal to
## glmmTMB's to 1e-8) and its Hessian: vcov() is then glmer's definition (2 H^-1 over
## (theta, beta), restricted to beta) applied to the Laplace approximation itself.
##
## Run: Rscript tests/reference/glmer_tight.R   (writes glmer_tight.json next to it)

suppressPackageStartupMessages({
  library(lme4)
  library(jsonlite)
})
args <- commandArgs(trailingOnly = FALSE)
script <- sub("--file=", "", args[grep("--file=", args)])
out_file <- file.path(dirname(normalizePath(script)), "glmer_tight.json")
data_dir <- "/work/shared/data"
man <- fromJSON(file.path(data_dir, "manifest.json"), simplifyVector = FALSE)

load_data <- function(name) {
  d <- read.csv(file.path(data_dir, paste0(name, ".csv")), stringsAsFactors = FALSE)
  for (col in man[[name]]$columns) {
    if (!is.null(col$levels))
      d[[col$name]] <- factor(as.character(d[[col$name]]), levels = unlist(col$levels))
  }
  d
}

cases <- list(
  list(id = "cbpp", data = "cbpp", family = "binomial",
       formula = cbind(incidence, size - incidence) ~ period + (1 | herd)),
  list(id = "grouseticks", data = "grouseticks", family = "poisson",
       formula = TICKS ~ YEAR + scale(HEIGHT) + (1 | BROOD) + (1 | LOCATION)),
  list(id = "Contraception", data = "Contraception", family = "binomial",
       formula = use ~ age + I(age^2) + urban + livch + (1 | district))
)
out <- list()
for (cs in cases) {
  d <- load_data(cs$data)
  fam <- get(cs$family)
  default <- glmer(cs$formula, data = d, family = fam)
  tight <- glmer(cs$formula, data = d, family = fam,
                 control = glmerControl(tolPwrss = 1e-10))
  out[[cs$id]] <- list(
    formula = paste(deparse(cs$formula), collapse = " "),
    family = cs$family,
    fixef_names = names(fixef(tight)),
    fixef = unname(fixef(tight)),
    std_error = unname(sqrt(diag(as.matrix(vcov(tight))))),
    std_error_default_tol = unname(sqrt(diag(as.matrix(vcov(default))))),
    sd = unname(sapply(VarCorr(tight), function(v) attr(v, "stddev"))),
    logLik = as.numeric(logLik(tight)),
    logLik_default_tol = as.numeric(logLik(default)),
    lme4 = as.character(packageVersion("lme4"))
  )
}
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), out_file)
