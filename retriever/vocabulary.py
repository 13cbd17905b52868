"""The words of lab questions: which metadata keys hold identifiers and attributes, how people say
attribute values, which words negate, and which words carry no constraint of their own.

The lists name the vocabularies labs use (NCBI SRA RunInfo and BioSample, ENA filereport, ISA-Tab,
SDRF, ELN custom fields, as normalised by indexer/sources/_content.py), never one data set's values:
values come from the store's value dictionary at question time.
"""

from __future__ import annotations

import re

# Metadata keys whose values name records: a subject id binds to an asset through these.
IDENTIFIER_KEYS = (
    "samples",
    "sample",
    "run_id",
    "experiment_id",
    "project",
    "study_id",
    "investigation_id",
    "file_name",
    "data_files",
    "source_name",
    "assay_names",
    "extract_names",
    "labeled_extract_names",
    "scan_names",
    "assay_files",
    # Raw run-table columns that name records but have no normalised key of their own.
    "SRAStudy",
    "BioProject",
    "study_accession",
    "secondary_study_accession",
    "Experiment",
    "experiment_accession",
    "Sample",
    "BioSample",
    "SampleName",
    "sample_accession",
    "secondary_sample_accession",
    "sample_alias",
    "LibraryName",
    "library_name",
)

# Metadata keys whose values describe records (what, how, of what): attribute mentions such as
# "Zea mays", "HiSeq 2000", "paired-end", "RNA-Seq" resolve against their value dictionaries.
# Normalised keys first, then the raw column spellings of run tables that have no normalised key.
ATTRIBUTE_KEYS = (
    "instrument",
    "organism",
    "assay",
    "LibraryLayout",
    "library_layout",
    "LibrarySource",
    "library_source",
    "LibrarySelection",
    "library_selection",
    "Platform",
    "instrument_platform",
    "tissue",
    "cell_type",
    "strain",
    "disease",
)

# Keys whose values come in families named by their first words: a genus names its species,
# a model family its models ("HiSeq" is every HiSeq). Other keys match whole values only.
FAMILY_KEYS = frozenset({"instrument", "organism", "strain"})

# Values that say nothing about a record; a question's "none" or "other" is not a constraint.
UNINFORMATIVE_VALUES = frozenset(
    {
        "none",
        "normal",
        "other",
        "unknown",
        "na",
        "n/a",
        "not available",
        "not applicable",
        "missing",
        "unspecified",
        "not collected",
        "not provided",
        "simple",
        "yes",
        "no",
    }
)

# Vendor words dropped from the front of an instrument name: "Illumina HiSeq 2000" is also said
# "HiSeq 2000", "Oxford Nanopore MinION" is said "MinION".
VENDOR_WORDS = frozenset(
    {
        "illumina",
        "oxford",
        "nanopore",
        "thermo",
        "fisher",
        "scientific",
        "life",
        "technologies",
        "applied",
        "biosystems",
        "bgi",
        "mgi",
        "roche",
        "454",
        "pacific",
        "biosciences",
        "ion",
        "torrent",
    }
)

# How people say values that are written otherwise: spoken form -> the words of the value.
SPOKEN_FORMS: dict[str, tuple[str, ...]] = {
    "gaiix": ("genome analyzer iix",),
    "ga iix": ("genome analyzer iix",),
    "gaii": ("genome analyzer ii",),
    "single end": ("single",),
    "single ended": ("single",),
    "se": ("single",),
    "paired end": ("paired",),
    "paired ended": ("paired",),
    "pe": ("paired",),
    "whole genome": ("wgs",),
    "whole genome sequencing": ("wgs",),
    "whole exome": ("wxs",),
    "exome": ("wxs",),
    "rnaseq": ("rna seq",),
    "pacbio": ("pacbio",),
    # Common names of the model organisms, as labs say them.
    "human": ("homo sapiens",),
    "humans": ("homo sapiens",),
    "mouse": ("mus musculus",),
    "mice": ("mus musculus",),
    "rat": ("rattus norvegicus",),
    "maize": ("zea mays",),
    "corn": ("zea mays",),
    "yeast": ("saccharomyces cerevisiae",),
    "zebrafish": ("danio rerio",),
    "fruit fly": ("drosophila melanogaster",),
    "thale cress": ("arabidopsis thaliana",),
    "e coli": ("escherichia coli",),
}

# Words that negate the mention that follows them (within a few words).
NEGATION_CUES = (
    "not",
    "except",
    "excluding",
    "exclude",
    "without",
    "other than",
    "apart from",
    "besides",
    "elsewhere than",
    "leaving out",
    "leave out",
    "but not",
    "no",
    "nt",  # "weren't" tokenises to "weren", "t"; handled below
)
NEGATION_WINDOW = 8

# Words that label the identifier after them ("sample X", "run SRR1", "study S"): not a target.
LABEL_WORDS = re.compile(
    r"\b(?:samples?|runs?|experiments?|files?|stud(?:y|ies)|projects?|bioprojects?|biosamples?"
    r"|assays?|datasets?|investigations?|accessions?|records?|specimens?|library)\b",
    re.I,
)

# Words that carry no constraint: question words, request verbs, articles, prepositions, and the
# framing words of lab questions. A word outside this list, the entity words and the matched
# mentions is a part of the question that was not understood, so the answer is not complete.
_GENERIC_TEXT = """
    a an the of for from in on at by with to into onto under within across among between per via
    and or but nor as than then that this these those there here it its it's their them they we
    our us you your i me my mine he she his her is are was were be been being am do does did done
    has have had having will would shall should can could may might must which what whose who whom
    where when how why whether if any all every each some several both either neither only also
    just still even ever please kindly thanks thank could would like need want wanted know tell
    give gave show shown list listing enumerate display find found get got see look looking return
    returns fetch retrieve report name names named identify identified provide count number many
    much total altogether exist exists existing available there's is there are there
    use used uses using made make produced produce generated generate derived derive created
    collected obtained acquired measured sequenced sequence sequencing run ran performed done
    recorded belong belongs belonging contain contains containing included include includes
    including come came comes associated linked related relevant corresponding correspond
    correspondingly underlying respective respectively assigned registered attached
    involved involve involving analysed analyzed processed raw final
    data file files datafile datafiles sample samples specimen specimens run runs experiment
    experiments study studies project projects bioproject biosample biosamples assay assays dataset
    datasets package packages record records entry entries accession accessions id ids identifier
    identifiers item items thing things one ones kind type types sort
    biological organism organisms species instrument instruments sequencer sequencers machine
    machines platform platforms technology library libraries strategy layout source selection
    read reads reading fastq fastqs bam bams vcf vcfs result results output outputs
    me mine ours so such own other same different whole every everything anything
    yes ok okay hi hello hey now currently today
    material materials genus genera strain behind end ended up down out back something anything
    somewhere elsewhere among amongst about around regarding concerning whatever ones apply
    applies actually exactly precisely full complete entire overall whole altogether including
    srr err drr srx erx drx srs ers drs srp erp samn samea prjna prjeb gsm gse pxd sra ena geo
    called labelled labeled tagged pls plz feed feeds fed times time went go goes gone into onto
    aren weren isn wasn don doesn didn haven hasn hadn won wouldn couldn shouldn t s
    contribute contributes contributed multiplexed pooled loaded went
"""
GENERIC_WORDS = frozenset(_GENERIC_TEXT.split())
